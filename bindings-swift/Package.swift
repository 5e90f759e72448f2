// swift-tools-version:5.9
// The SDK for iOS and macOS apps. `LivenessFFI` is the Rust core as an XCFramework (static
// libraries + the C header and modulemap uniffi generates); `LivenessSDK` holds the Swift that
// uniffi generates from the same build (Sources/LivenessSDK/Generated, written by
// scripts/build-xcframework.sh, never edited) and the hand-written layer beside it.
import PackageDescription

// Stamped by `scripts/build-xcframework.sh --release-url URL` for a release; empty for local
// builds, which use the XCFramework the script leaves in Frameworks/.
let releaseURL = ""
let releaseChecksum = ""

let ffi: Target = releaseURL.isEmpty
    ? .binaryTarget(name: "LivenessFFI", path: "Frameworks/LivenessFFI.xcframework")
    : .binaryTarget(name: "LivenessFFI", url: releaseURL, checksum: releaseChecksum)

let package = Package(
    name: "LivenessSDK",
    defaultLocalization: "en",
    platforms: [.iOS(.v15), .macOS(.v12)],
    products: [
        .library(name: "LivenessSDK", targets: ["LivenessSDK"]),
    ],
    targets: [
        ffi,
        .target(
            name: "LivenessSDK",
            dependencies: ["LivenessFFI"],
            path: "Sources/LivenessSDK",
            // The privacy manifest: what the SDK collects and the required-reason APIs its
            // static library calls (App Store Connect reports ITMS-91053 without it).
            resources: [.process("Resources"), .copy("PrivacyInfo.xcprivacy")],
            linkerSettings: [
                // reqwest reads the system proxy settings through SystemConfiguration.
                .linkedFramework("SystemConfiguration"),
                .linkedFramework("Security"),
            ]
        ),
    ]
)
