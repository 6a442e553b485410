// swift-tools-version:6.1
import Foundation
import PackageDescription

// The soname comes from the header's version macros, so the two cannot drift.
let root = Context.packageDirectory
let header = (try? String(contentsOfFile: root + "/include/polyai_handoff.h", encoding: .utf8)) ?? ""
let major = header.split(separator: "\n")
    .first { $0.hasPrefix("#define HANDOFF_VERSION_MAJOR ") }
    .map { String($0.split(separator: " ").last ?? "1") } ?? "1"

let package = Package(
    name: "polyai-handoff",
    products: [
        .library(name: "polyai_handoff", type: .dynamic, targets: ["PolyAIHandoff"]),
        .executable(name: "polyai-handoff-sandbox", targets: ["Sandbox"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CJansson", pkgConfig: "jansson", providers: [.apt(["libjansson-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CPolyAIHandoff", path: "include"),
        .systemLibrary(name: "CHandoffSystem"),

        // Plain Swift: configuration, transport, parsing, flattening. No C types in its API.
        .target(name: "HandoffCore", dependencies: ["CCurl", "CJansson", "COpenSSL", "CHandoffSystem"]),

        // The C ABI edge: every @c function, pointer and Unmanaged lives here.
        .target(
            name: "PolyAIHandoff",
            dependencies: ["HandoffCore", "CPolyAIHandoff"],
            exclude: ["exports.map"],
            swiftSettings: [.enableExperimentalFeature("CImplementation")],
            linkerSettings: [.unsafeFlags([
                "-static-stdlib", "-use-ld=lld",
                "-Xlinker", "--version-script=\(root)/Sources/PolyAIHandoff/exports.map",
                "-Xlinker", "-soname=libpolyai_handoff.so.\(major)",
                // Never unmapped, even by dlclose(): libcurl's resolver
                // threads, abandoned when a lookup times out during a DNS
                // outage, wake up later inside this library's code.
                "-Xlinker", "-z", "-Xlinker", "nodelete",
            ])]
        ),

        .executableTarget(
            name: "Sandbox",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            exclude: ["fixtures.json"]
        ),

        .testTarget(name: "HandoffCoreTests", dependencies: ["HandoffCore"]),
    ]
)
