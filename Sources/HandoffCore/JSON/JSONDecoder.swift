private import CJansson

/// Parses JSON with jansson into a `JSONValue`. This file is the only one that
/// touches jansson.
public enum JSONDecoder {
    public struct Failure: Error, Sendable, Equatable {
        public let message: String
    }

    public static func decode(_ bytes: [UInt8], maxDepth: Int = Limits.maxDocumentDepth) throws(Failure) -> JSONValue {
        let scanned: JSONPrescan
        do {
            scanned = try JSONPrescan(scanning: bytes, maxDepth: maxDepth)
        } catch .tooDeep {
            throw Failure(message: "JSON nested deeper than \(maxDepth) levels")
        } catch {
            throw Failure(message: "invalid JSON number")
        }
        var error = json_error_t()
        // Duplicate keys would make the document order of numbers ambiguous,
        // and no conforming server sends them.
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
        var walker = Walker(lexemes: scanned.lexemes)
        return walker.value(root)
    }

    /// Converts jansson's tree, handing out the number lexemes in the order the
    /// numbers appear (jansson keeps objects in insertion order).
    private struct Walker {
        let lexemes: [String]
        var next = 0

        mutating func value(_ node: UnsafeMutablePointer<json_t>) -> JSONValue {
            switch node.pointee.type {
            case JSON_OBJECT:
                var members: [JSONMember] = []
                members.reserveCapacity(json_object_size(node))
                var iterator = json_object_iter(node)
                while let current = iterator {
                    let key = Self.text(json_object_iter_key(current), json_object_iter_key_len(current))
                    if let child = json_object_iter_value(current) {
                        members.append(JSONMember(key, value(child)))
                    }
                    iterator = json_object_iter_next(node, current)
                }
                return .object(members)
            case JSON_ARRAY:
                let count = json_array_size(node)
                var elements: [JSONValue] = []
                elements.reserveCapacity(count)
                for index in 0..<count {
                    if let child = json_array_get(node, index) { elements.append(value(child)) }
                }
                return .array(elements)
            case JSON_STRING:
                return .string(Self.text(json_string_value(node), json_string_length(node)))
            case JSON_INTEGER, JSON_REAL:
                guard next < lexemes.count else { return .number("0") }
                defer { next += 1 }
                return .number(lexemes[next])
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
}
