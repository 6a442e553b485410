/// Turns the free-form `data` object into ordered key/value entries: dotted
/// keys for objects, indexed keys for arrays, document order throughout.
struct Flattener {
    let options: RenderOptions

    struct Output {
        var pairs: [(key: String, value: String)] = []
        /// Leaves left out by max_depth or max_entries.
        var dropped = 0
    }

    func flatten(_ data: JSONValue) -> Output {
        var output = Output()
        guard case .object(let members) = data else { return output }
        output.pairs.reserveCapacity(min(members.count * 2, options.maxEntries))
        for member in members {
            visit(member.value, key: member.key, depth: 1, into: &output)
        }
        return output
    }

    private func visit(_ value: JSONValue, key: String, depth: Int, into output: inout Output) {
        switch value {
        case .object(let members):
            for member in members {
                visitChild(member.value, key: key + "." + member.key, depth: depth, into: &output)
            }
        case .array(let elements):
            for (index, element) in elements.enumerated() {
                visitChild(element, key: key + "." + String(index), depth: depth, into: &output)
            }
        case .string(let text): emit(key, text, into: &output)
        case .number(let lexeme): emit(key, lexeme, into: &output)
        case .bool(let flag): emit(key, flag ? "true" : "false", into: &output)
        case .null: emit(key, "", into: &output)
        }
    }

    private func visitChild(_ value: JSONValue, key: String, depth: Int, into output: inout Output) {
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
    static func leafCount(_ value: JSONValue) -> Int {
        switch value {
        case .object(let members): members.reduce(0) { $0 + leafCount($1.value) }
        case .array(let elements): elements.reduce(0) { $0 + leafCount($1) }
        default: 1
        }
    }
}
