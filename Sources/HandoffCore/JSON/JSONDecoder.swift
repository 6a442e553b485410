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
                if key.elementsEqual("id".utf8) {
                    document.id = value.field
                } else if key.elementsEqual("shared_id".utf8) {
                    document.sharedID = value.field
                } else if key.elementsEqual("data".utf8) {
                    document.dataIsObject = value.isObject
                    if value.isObject { document.flat = flattener.flatten(value, sizeHint: bytes.count) }
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
        // A repeated key (or keys made equal by the prescan's mending) must
        // not fail the lookup: without JSON_REJECT_DUPLICATES jansson keeps
        // the last value at the first one's place, as JavaScript's JSON.parse
        // and Python do, and every reader of the tree (entries, data_json,
        // the top-level fields) sees that one value. It also saves jansson a
        // lookup per member.
        let flags = Int(JSON_ALLOW_NUL)
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
        // The walk reads numbers' text from the original bytes, in place.
        return bytes.withUnsafeBufferPointer { source in
            scanned.lexemes.withUnsafeBufferPointer { lexemes in
                body(JanssonNode(node: root, source: source, lexemes: lexemes))
            }
        }
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
    var flat = FlatEntries()
}

/// A node of jansson's tree, valid while the tree is. Numbers were replaced by
/// their index in `lexemes` (see JSONPrescan), so each integer node names the
/// exact text the server wrote, which is read from `source`. Plain pointers:
/// the walk neither allocates nor counts references.
private struct JanssonNode: FlattenableJSON {
    let node: UnsafeMutablePointer<json_t>
    let source: UnsafeBufferPointer<UInt8>
    let lexemes: UnsafeBufferPointer<Range<Int>>

    func withScalarText(_ body: (UnsafeBufferPointer<UInt8>) -> Void) -> Bool {
        switch node.pointee.type {
        case JSON_STRING: body(stringBytes)
        case JSON_INTEGER, JSON_REAL: body(lexeme)
        case JSON_TRUE: ScalarText.withTrue(body)
        case JSON_FALSE: ScalarText.withFalse(body)
        case JSON_NULL: ScalarText.withEmpty(body)
        default: return false
        }
        return true
    }

    var isObject: Bool { node.pointee.type == JSON_OBJECT }
    var isArray: Bool { node.pointee.type == JSON_ARRAY }

    /// The number's text as written; "0" if the index were ever out of range.
    private var lexeme: UnsafeBufferPointer<UInt8> {
        let index = Int(clamping: json_integer_value(node))
        guard index >= 0, index < lexemes.count, lexemes[index].upperBound <= source.count else {
            let zero: StaticString = "0"
            return UnsafeBufferPointer(start: zero.utf8Start, count: zero.utf8CodeUnitCount)
        }
        return UnsafeBufferPointer(rebasing: source[lexemes[index]])
    }

    var field: HandoffDocument.Field {
        switch node.pointee.type {
        case JSON_STRING: .string(Self.text(stringBytes))
        case JSON_NULL: .null
        default: .other
        }
    }

    func forEachMember(_ body: (UnsafeBufferPointer<UInt8>, JanssonNode) -> Void) {
        var iterator = json_object_iter(node)
        while let current = iterator {
            if let child = json_object_iter_value(current) {
                body(Self.bytes(json_object_iter_key(current), json_object_iter_key_len(current)),
                     JanssonNode(node: child, source: source, lexemes: lexemes))
            }
            iterator = json_object_iter_next(node, current)
        }
    }

    func forEachElement(_ body: (JanssonNode) -> Void) {
        guard node.pointee.type == JSON_ARRAY else { return }
        for index in 0..<json_array_size(node) {
            if let child = json_array_get(node, index) { body(JanssonNode(node: child, source: source, lexemes: lexemes)) }
        }
    }

    /// The whole subtree as a `JSONValue`.
    var value: JSONValue {
        switch node.pointee.type {
        case JSON_OBJECT:
            var members: [JSONMember] = []
            members.reserveCapacity(json_object_size(node))
            forEachMember { key, child in members.append(JSONMember(Self.text(key), child.value)) }
            return .object(members)
        case JSON_ARRAY:
            var elements: [JSONValue] = []
            elements.reserveCapacity(json_array_size(node))
            forEachElement { elements.append($0.value) }
            return .array(elements)
        case JSON_STRING: return .string(Self.text(stringBytes))
        case JSON_INTEGER, JSON_REAL: return .number(Self.text(lexeme))
        case JSON_TRUE: return .bool(true)
        case JSON_FALSE: return .bool(false)
        default: return .null
        }
    }

    /// A string node's text, in jansson's storage.
    private var stringBytes: UnsafeBufferPointer<UInt8> { Self.bytes(json_string_value(node), json_string_length(node)) }

    /// jansson's UTF-8 text as bytes; empty for NULL.
    static func bytes(_ pointer: UnsafePointer<CChar>?, _ length: Int) -> UnsafeBufferPointer<UInt8> {
        guard let pointer, length > 0 else { return UnsafeBufferPointer(start: nil, count: 0) }
        // char and UInt8 differ only in signedness, so they may alias.
        return UnsafeBufferPointer(start: UnsafeRawPointer(pointer).assumingMemoryBound(to: UInt8.self), count: length)
    }

    static func text(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        String(decoding: bytes, as: UTF8.self)
    }
}
