// The SDK's Android library (AAR), built on its own by scripts/build-aar.sh or included by
// sample-android as a composite build. The Rust side lives two levels up (the workspace).
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
rootProject.name = "liveness"
