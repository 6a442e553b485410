/// The command line. Accepts `--name value` and `--name=value`.
struct SandboxOptions: Sendable {
    var fixturesPath = ""
    var host = "127.0.0.1"
    var port = 0
    var portFile: String?
    var blackholePortFile: String?
    var allowNonLoopback = false
    var delayMs = 0
    var showHelp = false

    static let usage = """
        usage: polyai-handoff-sandbox --fixtures FILE [--host 127.0.0.1] [--port 0]
                                      [--port-file PATH] [--blackhole-port-file PATH]
                                      [--delay-ms N] [--allow-non-loopback]

        Serves GET /v1/{account_id}/{project_id}/handoff_state (and, when the fixtures
        have a dni_reservation pool, POST /v1/conversations/dni-reservation) from a
        fixtures file, plain HTTP, for tests and demos. See docs/sandbox.md.

          --fixtures FILE             fixture JSON file (required)
          --host ADDRESS              address to bind (default 127.0.0.1); must be loopback
                                      unless --allow-non-loopback is given
          --port N                    port to bind; 0 picks a free one (default 0)
          --port-file PATH            write the bound port to PATH once listening
          --blackhole-port-file PATH  also listen on 127.0.0.1 with a port that accepts
                                      connections and never answers; write its port to PATH
          --delay-ms N                answer every API request (handoff_state and
                                      dni-reservation) N ms later, on top of a
                                      fixture's own delay_ms, 0..600000
          --allow-non-loopback        permit binding a non-loopback address
          -h, --help                  print this help

        Once listening, prints "listening on http://HOST:PORT" on stdout.
        Exit status: 0 after SIGINT/SIGTERM, 1 if it cannot listen, 2 for bad usage or fixtures.
        """

    struct UsageError: Error, CustomStringConvertible {
        let description: String
    }

    static func parse(_ arguments: [String]) throws(UsageError) -> SandboxOptions {
        var options = SandboxOptions()
        var remaining = arguments[...]
        var sawFixtures = false
        while let argument = remaining.popFirst() {
            var name = argument
            var inlineValue: String?
            if argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") {
                name = String(argument[..<equals])
                inlineValue = String(argument[argument.index(after: equals)...])
            }
            func value() throws(UsageError) -> String {
                if let inlineValue { return inlineValue }
                guard let next = remaining.popFirst() else { throw UsageError(description: "\(name) needs a value") }
                return next
            }
            if inlineValue != nil, name == "--help" || name == "--allow-non-loopback" {
                throw UsageError(description: "\(name) takes no value")
            }
            switch name {
            case "-h", "--help": options.showHelp = true
            case "--fixtures": options.fixturesPath = try value(); sawFixtures = true
            case "--host": options.host = try value()
            case "--port":
                let text = try value()
                guard let port = Int(text), (0...65535).contains(port) else {
                    throw UsageError(description: "--port must be 0...65535, not \"\(text)\"")
                }
                options.port = port
            case "--delay-ms":
                let text = try value()
                guard let ms = Int(text), (0...600_000).contains(ms) else {
                    throw UsageError(description: "--delay-ms must be 0...600000, not \"\(text)\"")
                }
                options.delayMs = ms
            case "--port-file": options.portFile = try value()
            case "--blackhole-port-file": options.blackholePortFile = try value()
            case "--allow-non-loopback": options.allowNonLoopback = true
            default: throw UsageError(description: "unknown argument \"\(argument)\"")
            }
        }
        if !options.showHelp, !sawFixtures || options.fixturesPath.isEmpty {
            throw UsageError(description: "--fixtures FILE is required")
        }
        return options
    }
}
