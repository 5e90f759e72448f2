// Android library: the Rust core (libliveness_ffi.so for arm64-v8a, armeabi-v7a, x86_64, built
// with cargo-ndk), the Kotlin that uniffi generates from it at build time (never committed), and
// the hand-written layer in src/main/kotlin (coroutines, CameraX analyzer, Compose view).
//
// Needs: the Android SDK with the NDK version below (Android Studio's SDK Manager, or
// `sdkmanager "ndk;27.2.12479018"`), rustup targets aarch64-linux-android armv7-linux-androideabi
// x86_64-linux-android, and `cargo install cargo-ndk`. scripts/build-aar.sh checks all of that.
//
// cargo is found without PATH (Android Studio started from the Dock or a desktop launcher does
// not see the shell's PATH): the `cargo` Gradle property (-Pcargo=/path/to/cargo, or
// `cargo=...` in ~/.gradle/gradle.properties), else $CARGO_HOME/bin/cargo, else
// ~/.cargo/bin/cargo, else `cargo` on PATH. cargo-ndk gets the NDK of `ndkVersion` through
// ANDROID_NDK_HOME, never whichever NDK happens to be newest.
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
val cargoProfile = providers.gradleProperty("cargoProfile").getOrElse("release")
val abis = listOf("arm64-v8a", "armeabi-v7a", "x86_64")
val minSdkVersion = 24
// uniffi's generated Kotlin calls the library through JNA, whose libjnidispatch.so ships in
// every app: 5.18.1 or later is 16 KB-page aligned (5.16/5.17) and free of 5.16's Structure
// deadlock (fixed in 5.18.0). scripts/check-android.sh refuses an older version here.
val jnaVersion = "5.18.1"

val cargo: String = providers.gradleProperty("cargo").orNull
    ?: listOfNotNull(
        providers.environmentVariable("CARGO_HOME").orNull?.let { File(it, "bin/cargo") },
        File(System.getProperty("user.home"), ".cargo/bin/cargo"),
    ).firstOrNull { it.canExecute() }?.path
    ?: "cargo"
// rustc, rustup and cargo-ndk sit beside cargo; the build scripts need them on PATH too.
val cargoPath: String = listOfNotNull(
    File(cargo).parentFile?.path,
    providers.environmentVariable("PATH").orNull,
).joinToString(File.pathSeparator)

/** libliveness_ffi.so for every ABI, built by cargo-ndk into [outputDir] (jniLibs layout). */
abstract class CargoNdkTask : Exec() {
    @get:OutputDirectory
    abstract val outputDir: DirectoryProperty

    @get:Internal
    abstract val ndkDirectory: DirectoryProperty
}

/** The Kotlin uniffi generates from the built library (library mode), into [outputDir]. */
abstract class UniffiKotlinTask : Exec() {
    @get:InputFile
    abstract val library: RegularFileProperty

    @get:OutputDirectory
    abstract val outputDir: DirectoryProperty
}

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
    implementation("net.java.dev.jna:jna:$jnaVersion@aar")
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

// Per variant, through the variant API: AGP places each generated directory and makes every
// task that reads it (compilation, merging the jniLibs, the sources jar of `withSourcesJar()`,
// lint) depend on the task that makes it. (A plain `sourceSets.srcDir` ordered by `preBuild`
// left the sources jar without that dependency, which Gradle 8 refuses when publishing.)
androidComponents {
    onVariants { variant ->
        val variantName = variant.name.replaceFirstChar { it.uppercase() }

        // 1. The Rust library for every ABI, 16 KB-page aligned (Android 15+ devices with 16 KB
        //    pages refuse 4 KB-aligned libraries). The models are embedded in it: models/ is an
        //    input, so a changed model rebuilds it instead of leaving a stale one in the AAR.
        //    Both variants use the `cargoProfile` build (release unless -PcargoProfile=debug:
        //    tract unoptimised is too slow to run a session); cargo's cache makes the second
        //    variant's build a copy.
        val cargoNdk = tasks.register<CargoNdkTask>("cargoNdk$variantName") {
            group = "rust"
            description = "Builds libliveness_ffi.so for $abis with cargo-ndk ($cargoProfile)"
            workingDir = workspace
            ndkDirectory.set(androidComponents.sdkComponents.ndkDirectory)
            val pageFlag = "-C link-arg=-Wl,-z,max-page-size=16384"
            environment("CARGO_TARGET_AARCH64_LINUX_ANDROID_RUSTFLAGS", pageFlag)
            environment("CARGO_TARGET_ARMV7_LINUX_ANDROIDEABI_RUSTFLAGS", pageFlag)
            environment("CARGO_TARGET_X86_64_LINUX_ANDROID_RUSTFLAGS", pageFlag)
            environment("PATH", cargoPath)
            executable(cargo)
            val out = outputDir
            argumentProviders.add(
                CommandLineArgumentProvider {
                    buildList {
                        add("ndk")
                        abis.forEach { addAll(listOf("-t", it)) }
                        addAll(listOf("-o", out.get().asFile.path, "--platform", "$minSdkVersion"))
                        addAll(listOf("build", "--locked", "-p", "liveness-ffi"))
                        if (cargoProfile == "release") add("--release")
                    }
                },
            )
            val ndkVersion = android.ndkVersion
            doFirst {
                val ndk = ndkDirectory.get().asFile
                check(ndk.isDirectory) { "NDK $ndkVersion not found at $ndk: install it with the SDK Manager" }
                environment("ANDROID_NDK_HOME", ndk.path)
                environment("ANDROID_NDK_ROOT", ndk.path)
            }
            inputs.dir(workspace.resolve("rust-core"))
            inputs.dir(workspace.resolve("models"))
            inputs.file(workspace.resolve("Cargo.toml"))
            inputs.file(workspace.resolve("Cargo.lock"))
            inputs.property("cargoProfile", cargoProfile)
        }

        // 2. Kotlin generated from the built library (library mode: the .so carries the
        //    interface).
        val uniffiKotlin = tasks.register<UniffiKotlinTask>("uniffiKotlin$variantName") {
            group = "rust"
            description = "Generates the Kotlin bindings from libliveness_ffi.so"
            workingDir = workspace
            library.set(cargoNdk.flatMap { it.outputDir.file("arm64-v8a/libliveness_ffi.so") })
            environment("PATH", cargoPath)
            executable(cargo)
            val lib = library
            val out = outputDir
            argumentProviders.add(
                CommandLineArgumentProvider {
                    listOf(
                        "run", "--locked", "-p", "uniffi-bindgen", "--",
                        "generate", "--library", lib.get().asFile.path, "--language", "kotlin",
                        "--out-dir", out.get().asFile.path, "--no-format",
                    )
                },
            )
            doFirst { out.get().asFile.deleteRecursively() }
        }

        variant.sources.jniLibs?.addGeneratedSourceDirectory(cargoNdk, CargoNdkTask::outputDir)
        variant.sources.kotlin?.addGeneratedSourceDirectory(uniffiKotlin, UniffiKotlinTask::outputDir)
    }
}

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
