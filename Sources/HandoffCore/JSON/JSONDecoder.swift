private import CJansson

/// Parses JSON with jansson. This file is the only one that touches jansson.
public enum JSONDecoder {
    public struct Failure: Error, Sendable, Equatable {
        public let message: String
    }

    /// The whole document as a `JSONValue`.
    public static func decode(_ bytes: [UInt8], maxDepth: Int = Limits.maxDocumentDepth) throws(Failure) -> JSONValue {
        try withDocument(bytes, maxDepth: maxDepth) { root in root.value }
    }

    /// The fields of a handoff_state answer, with `data` flattened straight
    /// from jansson's tree: the lookup path never builds a Swift copy of it.
    static func decodeHandoff(_ bytes: [UInt8], flattener: Flattener) throws(Failure) -> HandoffDocument {
        try withDocument(bytes, maxDepth: Limits.maxDocumentDepth) { root in
            var document = HandoffDocument()
            guard root.isObject else { return document }
            root.forEachMember { key, value in
                switch key {
                case "id": document.id = value.field
                case "shared_id": document.sharedID = value.field
                case "data":
                    document.dataIsObject = value.isObject
                    if value.isObject { document.flat = flattener.flatten(value) }
                default: break
                }
            }
            return document
        }
    }

    /// Runs `body` over the parsed document while jansson's tree is alive.
    private static func withDocument<T>(_ bytes: [UInt8], maxDepth: Int, _ body: (JanssonNode) -> T) throws(Failure) -> T {
        let scanned: JSONPrescan
        do {
            scanned = try JSONPrescan(scanning: bytes, maxDepth: maxDepth)
        } catch .tooDeep {
            throw Failure(message: "JSON nested deeper than \(maxDepth) levels")
        } catch {
            throw Failure(message: "invalid JSON number")
        }
        var error = json_error_t()
        // Duplicate keys would make "the" value of a key ambiguous, and no
        // conforming server sends them.
        let flags = Int(JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)
        let parsed = scanned.masked.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { json_loadb($0.baseAddress, $0.count, flags, &error) }
        }
        guard let root = parsed else {
            let text = withUnsafeBytes(of: &error.text) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            throw Failure(message: "invalid JSON: \(text)")
        }
        defer { json_decref(root) }
        return body(JanssonNode(node: root, lexemes: scanned.lexemes))
    }
}

/// The top-level fields of a handoff_state answer.
struct HandoffDocument {
    enum Field: Equatable {
        case missing, null, string(String), other
    }

    var id = Field.missing
    var sharedID = Field.missing
    var dataIsObject = false
    var flat = Flattener.Output()
}

/// A node of jansson's tree, valid while the tree is. Numbers were replaced by
/// their index in `lexemes` (see JSONPrescan), so each integer node names the
/// exact text the server wrote.
private struct JanssonNode: FlattenableJSON {
    let node: UnsafeMutablePointer<json_t>
    let lexemes: [String]

    var scalarText: String? {
        switch node.pointee.type {
        case JSON_STRING: Self.text(json_string_value(node), json_string_length(node))
        case JSON_INTEGER, JSON_REAL: lexeme
        case JSON_TRUE: "true"
        case JSON_FALSE: "false"
        case JSON_NULL: ""
        default: nil
        }
    }

    var isObject: Bool { node.pointee.type == JSON_OBJECT }

    private var lexeme: String {
        let index = Int(clamping: json_integer_value(node))
        return index >= 0 && index < lexemes.count ? lexemes[index] : "0"
    }

    var field: HandoffDocument.Field {
        switch node.pointee.type {
        case JSON_STRING: .string(Self.text(json_string_value(node), json_string_length(node)))
        case JSON_NULL: .null
        default: .other
        }
    }

    func forEachMember(_ body: (String, JanssonNode) -> Void) {
        var iterator = json_object_iter(node)
        while let current = iterator {
            if let child = json_object_iter_value(current) {
                body(Self.text(json_object_iter_key(current), json_object_iter_key_len(current)),
                     JanssonNode(node: child, lexemes: lexemes))
            }
            iterator = json_object_iter_next(node, current)
        }
    }

    func forEachElement(_ body: (JanssonNode) -> Void) {
        guard node.pointee.type == JSON_ARRAY else { return }
        for index in 0..<json_array_size(node) {
            if let child = json_array_get(node, index) { body(JanssonNode(node: child, lexemes: lexemes)) }
        }
    }

    /// The whole subtree as a `JSONValue`.
    var value: JSONValue {
        switch node.pointee.type {
        case JSON_OBJECT:
            var members: [JSONMember] = []
            members.reserveCapacity(json_object_size(node))
            forEachMember { key, child in members.append(JSONMember(key, child.value)) }
            return .object(members)
        case JSON_ARRAY:
            var elements: [JSONValue] = []
            elements.reserveCapacity(json_array_size(node))
            forEachElement { elements.append($0.value) }
            return .array(elements)
        case JSON_STRING: return .string(scalarText ?? "")
        case JSON_INTEGER, JSON_REAL: return .number(lexeme)
        case JSON_TRUE: return .bool(true)
        case JSON_FALSE: return .bool(false)
        default: return .null
        }
    }

    static func text(_ pointer: UnsafePointer<CChar>?, _ length: Int) -> String {
        guard let pointer else { return "" }
        return pointer.withMemoryRebound(to: UInt8.self, capacity: length) {
            String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
        }
    }
}
