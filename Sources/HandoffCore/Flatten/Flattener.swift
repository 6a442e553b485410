/// Turns the free-form `data` object into ordered key/value entries: dotted
/// keys for objects, indexed keys for arrays, document order throughout.
/// Keys are built in one reused byte buffer and every entry is written
/// straight into a `FlatEntries`.
///
/// What `dropped` counts: every entry include/exclude keep that max_entries
/// or max_depth leaves out, one per scalar (an empty object or array is no
/// entry). Entries include/exclude leave out are never counted.
struct Flattener: Sendable {
    let options: RenderOptions

    /// `sizeHint`: the body's size, which bounds most documents' entries.
    func flatten<Node: FlattenableJSON>(_ data: Node, sizeHint: Int = 256) -> FlatEntries {
        var output = FlatEntries()
        guard data.isObject else { return output }
        output.reserveCapacity(bytes: sizeHint + 64, entries: min(options.maxEntries, 32))
        var walk = Walk()
        walk.key.reserveCapacity(128)
        data.forEachMember { name, value in
            walk.key.removeAll(keepingCapacity: true)
            walk.key.append(contentsOf: name)
            visit(value, depth: 1, &walk, into: &output)
        }
        return output
    }

    /// The walk's reused buffers: the flattened key of the current node, and
    /// room for a key made safe when it is not plain (see `isSelected`).
    private struct Walk {
        var key: [UInt8] = []
        var safeKey: [UInt8] = []
    }

    private func visit<Node: FlattenableJSON>(_ value: Node, depth: Int, _ walk: inout Walk, into output: inout FlatEntries) {
        let isScalar = value.withScalarText { text in emit(text, &walk, into: &output) }
        guard !isScalar else { return }
        forEachChild(of: value, &walk) { child, walk in
            guard depth < options.maxDepth else {
                output.dropped += selectedLeafCount(child, &walk)
                return
            }
            visit(child, depth: depth + 1, &walk, into: &output)
        }
    }

    /// Calls `body` for each member or element with `walk.key` extended by
    /// its name or index, and restores the key after.
    private func forEachChild<Node: FlattenableJSON>(of value: Node, _ walk: inout Walk, _ body: (Node, inout Walk) -> Void) {
        let length = walk.key.count
        if value.isObject {
            value.forEachMember { name, child in
                walk.key.append(UInt8(ascii: "."))
                walk.key.append(contentsOf: name)
                body(child, &walk)
                walk.key.removeSubrange(length...)
            }
        } else {
            var index = 0
            value.forEachElement { child in
                walk.key.append(UInt8(ascii: "."))
                DecimalText.append(index, to: &walk.key)
                body(child, &walk)
                walk.key.removeSubrange(length...)
                index += 1
            }
        }
    }

    private func emit(_ value: UnsafeBufferPointer<UInt8>, _ walk: inout Walk, into output: inout FlatEntries) {
        guard isSelected(&walk) else { return }
        guard output.count < options.maxEntries else {
            output.dropped += 1
            return
        }
        walk.key.withUnsafeBufferPointer { key in
            output.append(key: key, value: value, maxValueBytes: options.maxValueBytes)
        }
    }

    /// How many entries under `value` (whose key is `walk.key`) include and
    /// exclude keep. Without either, simply the scalars under it.
    private func selectedLeafCount<Node: FlattenableJSON>(_ value: Node, _ walk: inout Walk) -> Int {
        guard hasSelection else { return Self.leafCount(value) }
        if value.isObject || value.isArray {
            var count = 0
            forEachChild(of: value, &walk) { child, walk in count += selectedLeafCount(child, &walk) }
            return count
        }
        return isSelected(&walk) ? 1 : 0
    }

    private var hasSelection: Bool { options.include != nil || !options.exclude.isEmpty }

    /// Whether include/exclude keep the entry keyed `walk.key`. Patterns match
    /// the key as the result returns it (made safe and bounded, as
    /// `FlatEntries.append` writes it), so "x y" matches a key sent as "x\ty".
    /// Nearly every key is plain and short, and is matched as it is.
    private func isSelected(_ walk: inout Walk) -> Bool {
        guard hasSelection else { return true }
        let plain = walk.key.count <= Limits.maxKeyBytes && walk.key.withUnsafeBufferPointer(SafeText.isPrintableASCII)
        if plain { return walk.key.withUnsafeBufferPointer(options.isSelected) }
        walk.safeKey.removeAll(keepingCapacity: true)
        walk.key.withUnsafeBufferPointer { _ = SafeText.append($0, maxBytes: Limits.maxKeyBytes, to: &walk.safeKey) }
        return walk.safeKey.withUnsafeBufferPointer(options.isSelected)
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
