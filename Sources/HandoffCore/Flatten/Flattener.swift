/// Turns the free-form `data` object into ordered key/value entries: dotted
/// keys for objects, indexed keys for arrays, document order throughout.
/// Keys are built in one reused byte buffer and every entry is written
/// straight into a `FlatEntries`.
struct Flattener: Sendable {
    let options: RenderOptions

    /// `sizeHint`: the body's size, which bounds most documents' entries.
    func flatten<Node: FlattenableJSON>(_ data: Node, sizeHint: Int = 256) -> FlatEntries {
        var output = FlatEntries()
        guard data.isObject else { return output }
        output.reserveCapacity(bytes: sizeHint + 64, entries: min(options.maxEntries, 32))
        var key: [UInt8] = []
        key.reserveCapacity(128)
        data.forEachMember { name, value in
            key.removeAll(keepingCapacity: true)
            key.append(contentsOf: name)
            visit(value, key: &key, depth: 1, into: &output)
        }
        return output
    }

    private func visit<Node: FlattenableJSON>(_ value: Node, key: inout [UInt8], depth: Int, into output: inout FlatEntries) {
        let isScalar = value.withScalarText { text in emit(key, text, into: &output) }
        guard !isScalar else { return }
        let length = key.count
        if value.isObject {
            value.forEachMember { name, child in
                key.append(UInt8(ascii: "."))
                key.append(contentsOf: name)
                visitChild(child, key: &key, depth: depth, into: &output)
                key.removeSubrange(length...)
            }
        } else {
            var index = 0
            value.forEachElement { child in
                key.append(UInt8(ascii: "."))
                DecimalText.append(index, to: &key)
                visitChild(child, key: &key, depth: depth, into: &output)
                key.removeSubrange(length...)
                index += 1
            }
        }
    }

    private func visitChild<Node: FlattenableJSON>(_ value: Node, key: inout [UInt8], depth: Int, into output: inout FlatEntries) {
        guard depth < options.maxDepth else {
            output.dropped += Self.leafCount(value)
            return
        }
        visit(value, key: &key, depth: depth + 1, into: &output)
    }

    private func emit(_ key: [UInt8], _ value: UnsafeBufferPointer<UInt8>, into output: inout FlatEntries) {
        key.withUnsafeBufferPointer { key in
            guard options.isSelected(key) else { return }
            guard output.count < options.maxEntries else {
                output.dropped += 1
                return
            }
            output.append(key: key, value: value, maxValueBytes: options.maxValueBytes)
        }
    }

    /// How many entries a subtree would have given; an empty object or array gives none.
    static func leafCount<Node: FlattenableJSON>(_ value: Node) -> Int {
        var count = 0
        if value.isObject {
            value.forEachMember { _, child in count += leafCount(child) }
        } else if value.isArray {
            value.forEachElement { count += leafCount($0) }
        } else {
            count = 1
        }
        return count
    }
}
