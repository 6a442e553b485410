/// Turns the free-form `data` object into ordered key/value entries: dotted
/// keys for objects, indexed keys for arrays, document order throughout.
struct Flattener: Sendable {
    let options: RenderOptions

    struct Output: Sendable {
        var pairs: [(key: String, value: String)] = []
        /// Leaves left out by max_depth or max_entries.
        var dropped = 0
    }

    func flatten<Node: FlattenableJSON>(_ data: Node) -> Output {
        var output = Output()
        guard data.isObject else { return output }
        output.pairs.reserveCapacity(min(16, options.maxEntries))
        data.forEachMember { key, value in visit(value, key: key, depth: 1, into: &output) }
        return output
    }

    private func visit<Node: FlattenableJSON>(_ value: Node, key: String, depth: Int, into output: inout Output) {
        if let text = value.scalarText {
            emit(key, text, into: &output)
        } else if value.isObject {
            value.forEachMember { name, child in visitChild(child, key: key + "." + name, depth: depth, into: &output) }
        } else {
            var index = 0
            value.forEachElement { child in
                visitChild(child, key: key + "." + String(index), depth: depth, into: &output)
                index += 1
            }
        }
    }

    private func visitChild<Node: FlattenableJSON>(_ value: Node, key: String, depth: Int, into output: inout Output) {
        guard depth < options.maxDepth else {
            output.dropped += Self.leafCount(value)
            return
        }
        visit(value, key: key, depth: depth + 1, into: &output)
    }

    private func emit(_ key: String, _ value: String, into output: inout Output) {
        guard options.isSelected(key) else { return }
        guard output.pairs.count < options.maxEntries else {
            output.dropped += 1
            return
        }
        output.pairs.append((key, value))
    }

    /// How many entries a subtree would have given; an empty object or array gives none.
    static func leafCount<Node: FlattenableJSON>(_ value: Node) -> Int {
        guard value.scalarText == nil else { return 1 }
        var count = 0
        if value.isObject {
            value.forEachMember { _, child in count += leafCount(child) }
        } else {
            value.forEachElement { count += leafCount($0) }
        }
        return count
    }
}
