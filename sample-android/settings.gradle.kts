pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}
dependencyResolutionManagement {
    repositories {
        google()
        mavenCentral()
    }
}
rootProject.name = "liveness-sample"
// The SDK from source: Gradle substitutes io.openliveness:liveness with the included build
// (which builds the Rust library with cargo-ndk). To use a published AAR instead, remove this
// line and add its Maven repository above.
includeBuild("../bindings-kotlin")
include(":app")
