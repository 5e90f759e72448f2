// swift-tools-version: 5.9
// The QA app as a SwiftPM app project: open LivenessQA.swiftpm in Xcode 15+ and run it on a
// device (Swift Playgrounds cannot: it does not support binary targets, and the SDK's Rust core
// is one). It uses the SDK package from ../../bindings-swift, whose XCFramework
// scripts/build-xcframework.sh builds first. Signing: pick your team in Xcode's Signing &
// Capabilities (Xcode then records it here as teamIdentifier).
import AppleProductTypes
import PackageDescription

let package = Package(
    name: "LivenessQA",
    platforms: [.iOS("16.0")],
    products: [
        .iOSApplication(
            name: "LivenessQA",
            targets: ["AppModule"],
            bundleIdentifier: "io.openliveness.sample",
            displayVersion: "0.1.0",
            bundleVersion: "1",
            appIcon: .placeholder(icon: .camera),
            accentColor: .presetColor(.blue),
            supportedDeviceFamilies: [.phone, .pad],
            supportedInterfaceOrientations: [.portrait],
            capabilities: [
                .camera(purposeString: "The camera checks that you are present; it also scans session QR codes."),
            ],
            appCategory: .developerTools
        ),
    ],
    dependencies: [
        .package(path: "../../bindings-swift"),
    ],
    targets: [
        .executableTarget(
            name: "AppModule",
            dependencies: [.product(name: "LivenessSDK", package: "bindings-swift")],
            path: "."
        ),
    ]
)
