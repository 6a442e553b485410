// polyai-handoff-sandbox: a local stand-in for the PolyAI handoff_state and
// DNI reservation endpoints, driven by a fixtures file. See docs/sandbox.md.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

let options: SandboxOptions
do {
    options = try SandboxOptions.parse(Array(CommandLine.arguments.dropFirst()))
} catch {
    Posix.writeLine("polyai-handoff-sandbox: \(error) (see --help)", toStandardError: true)
    exit(2)
}
if options.showHelp {
    Posix.writeLine(SandboxOptions.usage)
    exit(0)
}

let store: FixtureStore
do {
    let bytes = try Posix.readFile(options.fixturesPath, limit: 64 << 20)
    store = FixtureStore(try FixtureFile.parse(bytes))
} catch {
    Posix.writeLine("polyai-handoff-sandbox: bad fixtures file \(options.fixturesPath): \(error)", toStandardError: true)
    exit(2)
}

do {
    try await SandboxServer(options: options, store: store).run()
} catch {
    Posix.writeLine("polyai-handoff-sandbox: \(error)", toStandardError: true)
    exit(1)
}
exit(0)
