// Android library: the Rust core (libliveness_ffi.so for arm64-v8a, armeabi-v7a, x86_64, built
// with cargo-ndk), the Kotlin that uniffi generates from it at build time (never committed), and
// the hand-written layer in src/main/kotlin (coroutines, CameraX analyzer, Compose view).
//
// Needs: the Android SDK and NDK (ANDROID_HOME / ANDROID_NDK_HOME), rustup targets
// aarch64-linux-android armv7-linux-androideabi x86_64-linux-android, and `cargo install cargo-ndk`.
// scripts/build-aar.sh checks all of that first.
import org.jetbrains.kotlin.gradle.dsl.JvmTarget

plugins {
    id("com.android.library") version "8.7.3"
    id("org.jetbrains.kotlin.android") version "2.1.0"
    id("org.jetbrains.kotlin.plugin.compose") version "2.1.0"
    `maven-publish`
}

group = "io.openliveness"
version = providers.gradleProperty("livenessVersion").getOrElse("0.1.0")

val workspace = rootDir.resolve("../").canonicalFile
val jniLibsDir = layout.buildDirectory.dir("rust/jniLibs")
val generatedKotlin = layout.buildDirectory.dir("generated/uniffi/kotlin")
val cargoProfile = providers.gradleProperty("cargoProfile").getOrElse("release")
val abis = listOf("arm64-v8a", "armeabi-v7a", "x86_64")
val minSdkVersion = 24

android {
    namespace = "io.openliveness.liveness"
    compileSdk = 35
    // r27 is the LTS NDK; its linker still defaults to 4 KB pages, hence the flag below.
    ndkVersion = "27.2.12479018"

    defaultConfig {
        minSdk = minSdkVersion
        consumerProguardFiles("consumer-rules.pro")
        ndk { abiFilters += abis }
    }
    buildFeatures { compose = true }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    sourceSets["main"].apply {
        kotlin.srcDir(generatedKotlin)
        jniLibs.srcDir(jniLibsDir)
    }
    // Uncompressed, page-aligned .so files in the APK (AGP 8.5.1+ aligns them to 16 KB).
    packaging { jniLibs { useLegacyPackaging = false } }
    publishing {
        singleVariant("release") { withSourcesJar() }
    }
}

kotlin {
    compilerOptions { jvmTarget.set(JvmTarget.JVM_17) }
}

dependencies {
    // uniffi's generated Kotlin calls the library through JNA; the @aar carries its Android .so.
    implementation("net.java.dev.jna:jna:5.15.0@aar")
    api("org.jetbrains.kotlinx:kotlinx-coroutines-android:1.9.0")

    implementation(platform("androidx.compose:compose-bom:2024.12.01"))
    implementation("androidx.compose.ui:ui")
    implementation("androidx.compose.foundation:foundation")
    implementation("androidx.compose.material3:material3")
    implementation("androidx.activity:activity-compose:1.9.3")
    implementation("androidx.lifecycle:lifecycle-runtime-compose:2.8.7")

    val camerax = "1.4.1"
    api("androidx.camera:camera-core:$camerax")
    implementation("androidx.camera:camera-camera2:$camerax")
    implementation("androidx.camera:camera-lifecycle:$camerax")
    implementation("androidx.camera:camera-view:$camerax")
}

// 1. The Rust library for every ABI, 16 KB-page aligned (Android 15+ devices with 16 KB pages
//    refuse 4 KB-aligned libraries).
val cargoNdk by tasks.registering(Exec::class) {
    group = "rust"
    description = "Builds libliveness_ffi.so for $abis with cargo-ndk"
    workingDir = workspace
    val pageFlag = "-C link-arg=-Wl,-z,max-page-size=16384"
    environment("CARGO_TARGET_AARCH64_LINUX_ANDROID_RUSTFLAGS", pageFlag)
    environment("CARGO_TARGET_ARMV7_LINUX_ANDROIDEABI_RUSTFLAGS", pageFlag)
    environment("CARGO_TARGET_X86_64_LINUX_ANDROID_RUSTFLAGS", pageFlag)
    val args = mutableListOf("cargo", "ndk")
    abis.forEach { args += listOf("-t", it) }
    args += listOf("-o", jniLibsDir.get().asFile.path, "--platform", "$minSdkVersion", "build", "--locked", "-p", "liveness-ffi")
    if (cargoProfile == "release") args += "--release"
    commandLine(args)
    inputs.dir(workspace.resolve("rust-core"))
    inputs.file(workspace.resolve("Cargo.lock"))
    outputs.dir(jniLibsDir)
}

// 2. Kotlin generated from the built library (library mode: the .so carries the interface).
val uniffiBindgen by tasks.registering(Exec::class) {
    group = "rust"
    description = "Generates the Kotlin bindings from libliveness_ffi.so"
    dependsOn(cargoNdk)
    workingDir = workspace
    val lib = jniLibsDir.get().asFile.resolve("arm64-v8a/libliveness_ffi.so")
    val out = generatedKotlin.get().asFile
    doFirst { out.deleteRecursively() }
    commandLine(
        "cargo", "run", "--locked", "-p", "uniffi-bindgen", "--",
        "generate", "--library", lib.path, "--language", "kotlin", "--out-dir", out.path, "--no-format",
    )
    inputs.file(lib)
    outputs.dir(out)
}

tasks.named("preBuild") { dependsOn(uniffiBindgen) }

publishing {
    publications {
        register<MavenPublication>("release") {
            groupId = "io.openliveness"
            artifactId = "liveness"
            afterEvaluate { from(components["release"]) }
            pom {
                name.set("Open Liveness SDK")
                description.set("On-device face liveness with signed evidence, for Android.")
                licenses { license { name.set("Apache-2.0") } }
            }
        }
    }
    repositories {
        maven {
            name = "local"
            url = uri(layout.buildDirectory.dir("maven"))
        }
    }
}
