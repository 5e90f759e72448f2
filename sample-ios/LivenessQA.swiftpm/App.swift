import LivenessSDK
import SwiftUI
import UIKit

@main
struct LivenessQAApp: App {
    var body: some Scene {
        WindowGroup { ContentView() }
    }
}

/// Setup → liveness → outcome, with a settings sheet for the challenge options.
struct ContentView: View {
    enum Screen {
        case setup
        case running(Liveness)
        case done(LivenessResult)
        case failed(LivenessError)
    }

    @State private var screen = Screen.setup
    @State private var options = ChallengeOptions()
    @State private var problem: String?

    var body: some View {
        switch screen {
        case .setup:
            SetupView(options: $options, problem: $problem, onStart: start)
        case let .running(liveness):
            LivenessView(
                liveness: liveness,
                onResult: { screen = .done($0) },
                onError: { screen = .failed($0) }
            )
            .ignoresSafeArea()
        case let .done(result):
            ResultView(result: result) { screen = .setup }
        case let .failed(error):
            ErrorView(error: error) { screen = .setup }
        }
    }

    private func start(_ ticket: SessionTicket) {
        problem = nil
        let device = DeviceDescription(
            platform: "ios",
            osVersion: UIDevice.current.systemVersion,
            model: UIDevice.current.model,
            appId: Bundle.main.bundleIdentifier
        )
        do {
            let liveness = try Liveness(
                serverURL: ticket.serverURL,
                sessionJSON: ticket.sessionJSON,
                config: defaultConfig(device: device),
                keyStore: KeychainDeviceKeyStore()
            )
            screen = .running(liveness)
        } catch let error as LivenessError {
            screen = .failed(error)
        } catch {
            problem = error.localizedDescription
        }
    }
}

struct SetupView: View {
    @Binding var options: ChallengeOptions
    @Binding var problem: String?
    let onStart: (SessionTicket) -> Void

    @State private var serverURL = "https://"
    @State private var sessionJSON = ""
    @State private var apiKey = ""
    @State private var scanning = false
    @State private var showSettings = false

    var body: some View {
        NavigationStack {
            Form {
                Section("Session from your backend") {
                    TextField("Server URL", text: $serverURL)
                        .keyboardType(.URL)
                        .textInputAutocapitalization(.never)
                        .autocorrectionDisabled()
                    TextEditor(text: $sessionJSON)
                        .frame(minHeight: 120)
                        .font(.footnote.monospaced())
                        .accessibilityLabel("Session JSON")
                    Button("Start") { startFrom(sessionJSON) }
                    Button("Scan QR code") { scanning = true }
                        .disabled(!QRScanner.isAvailable)
                }
                Section("QA server only: create the session here") {
                    SecureField("Tenant API key (never in a real app)", text: $apiKey)
                    Button("Create and start") { create() }
                    Button("Challenge options") { showSettings = true }
                    Text(options.json).font(.footnote.monospaced()).foregroundStyle(.secondary)
                }
                if let problem {
                    Section { Text(problem).foregroundStyle(.red) }
                }
            }
            .navigationTitle("Liveness QA")
            .sheet(isPresented: $showSettings) { SettingsView(options: $options) }
            .sheet(isPresented: $scanning) {
                QRScanner { code in
                    scanning = false
                    startFrom(code)
                }
                .ignoresSafeArea()
            }
        }
    }

    private func startFrom(_ text: String) {
        do {
            onStart(try SessionSetup.parse(text, typedServerURL: serverURL))
        } catch {
            problem = error.localizedDescription
        }
    }

    private func create() {
        Task {
            do {
                onStart(try await SessionSetup.create(serverURL: serverURL, apiKey: apiKey, options: options))
            } catch {
                problem = error.localizedDescription
            }
        }
    }
}

struct SettingsView: View {
    @Binding var options: ChallengeOptions
    @Environment(\.dismiss) private var dismiss

    var body: some View {
        NavigationStack {
            Form {
                Toggle("Random challenges", isOn: $options.random)
                Toggle("Screen-light step (off: the no-flash path)", isOn: $options.lightChallenge)
                if options.random {
                    Stepper("Challenges: \(options.count)", value: $options.count, in: 1...5)
                    Section("Draw from (none ticked = all)") {
                        ForEach(ChallengeOptions.all, id: \.self) { kind in
                            Toggle(kind, isOn: Binding(
                                get: { options.available.contains(kind) },
                                set: { on in
                                    if on { options.available.insert(kind) } else { options.available.remove(kind) }
                                }
                            ))
                        }
                    }
                } else {
                    Picker("Challenge", selection: $options.fixed) {
                        ForEach(ChallengeOptions.all, id: \.self) { Text($0).tag($0) }
                    }
                }
            }
            .navigationTitle("Challenge options")
            .toolbar { Button("Done") { dismiss() } }
        }
    }
}

struct ResultView: View {
    let result: LivenessResult
    let onAgain: () -> Void

    var body: some View {
        NavigationStack {
            List {
                Section("Outcome") {
                    LabeledContent("Server", value: result.jobStatus)
                    LabeledContent("On the device", value: result.localPassed ? "passed" : (result.localFailure ?? "failed"))
                    LabeledContent("Job", value: result.jobId)
                    Text("Whether the person was live is read by the backend with its result token.")
                        .font(.footnote).foregroundStyle(.secondary)
                }
                Section("Evidence sent (\(result.images.count) frames)") {
                    ScrollView(.horizontal) {
                        HStack {
                            ForEach(Array(result.images.enumerated()), id: \.offset) { _, jpeg in
                                if let image = UIImage(data: jpeg) {
                                    Image(uiImage: image).resizable().scaledToFit().frame(height: 160)
                                        .accessibilityLabel("Evidence frame sent to the server")
                                }
                            }
                        }
                    }
                }
                Section("Raw") {
                    Text("frames analysed \(result.framesAnalysed), dropped \(result.framesDropped), evidence \(result.evidenceBytes) bytes, capture \(result.captureMs) ms, total \(result.totalMs) ms")
                        .font(.footnote.monospaced())
                }
            }
            .navigationTitle("Result")
            .toolbar { Button("New session", action: onAgain) }
        }
    }
}

struct ErrorView: View {
    let error: LivenessError
    let onAgain: () -> Void

    var body: some View {
        VStack(spacing: 16) {
            Text(error.localizedRecovery).font(.title3).multilineTextAlignment(.center)
            Text("code: \(error.code)").font(.footnote.monospaced())
            Text(String(describing: error)).font(.footnote).foregroundStyle(.secondary)
            if error.code == "permission_denied", let settings = URL(string: UIApplication.openSettingsURLString) {
                Button("Open Settings") { UIApplication.shared.open(settings) }
            }
            Button("New session", action: onAgain).buttonStyle(.borderedProminent)
        }
        .padding(32)
    }
}
