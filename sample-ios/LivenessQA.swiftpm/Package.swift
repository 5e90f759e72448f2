// swift-tools-version: 5.9
// The QA app as a SwiftPM app project: open LivenessQA.swiftpm in Xcode 15+ (or Swift
// Playgrounds 4.4+) and run it on a device. It uses the SDK package from ../../bindings-swift,
// whose XCFramework scripts/build-xcframework.sh builds first.
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
            teamIdentifier: "",
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
