#if os(iOS)
import AVFoundation
import SwiftUI
import UIKit

/// Drives a `LivenessView`: the camera, the session, and the UI state on the main actor. During
/// the light step it raises the screen to full brightness (restored after), announces the
/// photosensitivity notice to VoiceOver, and reports when each colour reached the glass.
@MainActor
public final class LivenessViewModel: NSObject, ObservableObject {
    @Published public private(set) var state: LivenessUIState
    public let liveness: Liveness
    public let camera = LivenessCamera()
    private var announcedPrompt: String?

    public init(liveness: Liveness) {
        self.liveness = liveness
        state = LivenessUIState(challenges: liveness.info.challenges)
        super.init()
    }

    /// Camera permission, camera, session, server: the outcome either way. The camera is
    /// stopped before this returns.
    public func run() async -> Result<LivenessResult, LivenessError> {
        let liveness = self.liveness
        let events = Task { @MainActor [weak self] in
            for await event in liveness.events {
                self?.apply(event)
            }
        }
        defer { camera.stop() }
        do {
            do {
                try await camera.start(feeding: liveness)
            } catch let error as LivenessError {
                // The session ends through run() like every other ending, so the server is
                // told now (camera_unavailable) and the integrator's verdict does not wait
                // for the submission window to close.
                if case .PermissionDenied = error {
                    liveness.permissionDenied()
                } else {
                    liveness.cameraFailed(detail: "\(error)")
                }
            }
            let result = try await liveness.run()
            await events.value // the stream ends with the session: every event is shown
            return .success(result)
        } catch let error as LivenessError {
            events.cancel()
            liveness.cancel()
            state.apply(.failed(code: error.code, detail: "\(error)"))
            return .failure(error)
        } catch {
            events.cancel()
            liveness.cancel()
            return .failure(.Cancelled(code: "cancelled", detail: "\(error)", recovery: "Start a new session when the user is ready."))
        }
    }

    private func lightStep(started: Bool) {
        if started {
            brightnessBefore = UIScreen.main.brightness
            UIScreen.main.brightness = 1
            if UIAccessibility.isVoiceOverRunning {
                UIAccessibility.post(notification: .announcement, argument: LivenessStrings.ui("liveness_light_notice"))
            }
        } else if let before = brightnessBefore {
            UIScreen.main.brightness = before
            brightnessBefore = nil
        }
    }

    /// The colour shows on the next refresh: the display link's target time is when, on the
    /// host clock that AVFoundation's sample buffers are stamped with.
    private func reportPresentation(of index: UInt8) {
        pendingPresentation = index
        if displayLink == nil {
            let link = CADisplayLink(target: self, selector: #selector(displayed(_:)))
            link.add(to: .main, forMode: .common)
            displayLink = link
        }
    }

    @objc private func displayed(_ link: CADisplayLink) {
        guard let index = pendingPresentation else { return }
        pendingPresentation = nil
        liveness.screenPresented(index: index, timestampMs: UInt64(max(link.targetTimestamp, 0) * 1000))
        link.invalidate()
        displayLink = nil
    }

    /// The app went to the background: release the camera; the session ends as cancelled.
    public func cancel() {
        liveness.cancel()
        camera.stop()
        if brightnessBefore != nil { lightStep(started: false) }
    }

    private var brightnessBefore: CGFloat?
    private var displayLink: CADisplayLink?
    private var pendingPresentation: UInt8?

    private func apply(_ event: LivenessEvent) {
        let wasLight = state.lightStep
        state.apply(event)
        if state.lightStep != wasLight {
            lightStep(started: state.lightStep)
        }
        if case .screen = event, let index = state.screenIndex {
            reportPresentation(of: index)
        }
        // VoiceOver reads each new instruction once, without the user moving focus.
        if let prompt = state.localizedPrompt, prompt != announcedPrompt, UIAccessibility.isVoiceOverRunning {
            announcedPrompt = prompt
            UIAccessibility.post(notification: .announcement, argument: prompt)
        }
    }
}

/// The whole liveness screen: front-camera preview, face oval, the current prompt and
/// guidance, progress, and the FollowText target. It asks for the camera permission, runs the
/// session, and cancels it when the app goes to the background (the camera is released).
/// From UIKit: `UIHostingController(rootView: LivenessView(...))`.
public struct LivenessView: View {
    @StateObject private var model: LivenessViewModel
    @Environment(\.scenePhase) private var scenePhase
    private let onResult: (LivenessResult) -> Void
    private let onError: (LivenessError) -> Void

    public init(
        liveness: Liveness,
        onResult: @escaping (LivenessResult) -> Void,
        onError: @escaping (LivenessError) -> Void
    ) {
        _model = StateObject(wrappedValue: LivenessViewModel(liveness: liveness))
        self.onResult = onResult
        self.onError = onError
    }

    public var body: some View {
        if permissionDenied {
            PermissionRequest(onCancel: {
                // Ends the session as permission_denied (the server is told) and reports it.
                Task { @MainActor in
                    if case let .failure(error) = await model.run() { onError(error) }
                }
            })
        } else {
            session
        }
    }

    /// Denied earlier: iOS will not ask again, only Settings can change it.
    private var permissionDenied: Bool {
        [.denied, .restricted].contains(AVCaptureDevice.authorizationStatus(for: .video))
    }

    private var session: some View {
        GeometryReader { geometry in
            ZStack {
                if let c = model.state.screenColor {
                    // The light step: the colour full screen, the preview small in the middle.
                    Color(red: c.red, green: c.green, blue: c.blue).ignoresSafeArea()
                    CameraPreview(session: model.camera.captureSession)
                        .frame(width: geometry.size.width * 0.5, height: geometry.size.width * 0.66)
                        .clipShape(Ellipse())
                        .accessibilityLabel(Text(LivenessStrings.ui("liveness_cd_camera_preview")))
                } else {
                    CameraPreview(session: model.camera.captureSession)
                        .accessibilityLabel(Text(LivenessStrings.ui("liveness_cd_camera_preview")))
                    FaceOval(ok: model.state.guidanceCode == nil, size: geometry.size)
                }
                if let target = model.state.target {
                    Text(LivenessStrings.ui("liveness_follow_target"))
                        .font(.headline)
                        .padding(.horizontal, 8)
                        .padding(.vertical, 4)
                        .background(Color.accentColor, in: RoundedRectangle(cornerRadius: 6))
                        .foregroundColor(.white)
                        .position(x: target.x * geometry.size.width, y: target.y * geometry.size.height)
                        .accessibilityLabel(Text(LivenessStrings.ui("liveness_cd_follow_target")))
                }
                VStack(spacing: 12) {
                    if let prompt = model.state.localizedPrompt {
                        Text(prompt)
                            .font(.title2.weight(.semibold))
                            .foregroundColor(.white)
                            .multilineTextAlignment(.center)
                            .accessibilityAddTraits(.updatesFrequently)
                    }
                    if let guidance = model.state.localizedGuidance {
                        Text(guidance)
                            .font(.headline)
                            .padding(.horizontal, 12)
                            .padding(.vertical, 6)
                            .background(Color.orange, in: Capsule())
                            .foregroundColor(.black)
                    }
                    Spacer()
                    progress
                }
                .padding(24)
                .padding(.top, 32)
                // run() then throws Cancelled, which reaches onError like any other ending.
                Button(LivenessStrings.ui("liveness_cancel")) { model.liveness.cancel() }
                    .foregroundColor(.white)
                    .padding(16)
                    .frame(maxWidth: .infinity, maxHeight: .infinity, alignment: .topLeading)
            }
        }
        .background(Color.black.ignoresSafeArea())
        .task {
            switch await model.run() {
            case let .success(result): onResult(result)
            case let .failure(error): onError(error)
            }
        }
        .onChange(of: scenePhase) { phase in
            if phase == .background { model.cancel() }
        }
    }

    @ViewBuilder private var progress: some View {
        let percent = Int((model.state.sessionProgress * 100).rounded())
        let label = Text(LivenessStrings.progressLabel(percent: min(max(percent, 0), 100)))
        if model.state.phase == .submitting {
            ProgressView().tint(.white).accessibilityLabel(label)
        } else {
            ProgressView(value: Double(min(max(model.state.sessionProgress, 0), 1)))
                .tint(.white)
                .accessibilityLabel(label)
        }
    }
}

/// Camera access was denied: explain, and offer the Settings app.
struct PermissionRequest: View {
    let onCancel: () -> Void

    var body: some View {
        VStack(spacing: 16) {
            Text(LivenessStrings.ui("liveness_permission_needed"))
                .multilineTextAlignment(.center)
            Text(LivenessStrings.ui("liveness_permission_blocked"))
                .multilineTextAlignment(.center)
                .foregroundStyle(.secondary)
            Button(LivenessStrings.ui("liveness_open_settings")) {
                if let url = URL(string: UIApplication.openSettingsURLString) {
                    UIApplication.shared.open(url)
                }
            }
            .buttonStyle(.borderedProminent)
            .accessibilityHint(Text(LivenessStrings.ui("liveness_grant_permission")))
            Button(LivenessStrings.ui("liveness_cancel"), action: onCancel)
        }
        .padding(32)
    }
}

/// The darkened screen with an oval window for the face.
struct FaceOval: View {
    let ok: Bool
    let size: CGSize

    private var oval: CGRect {
        let width = size.width * 0.72
        let height = width * 1.3
        return CGRect(x: (size.width - width) / 2, y: (size.height - height) / 2, width: width, height: height)
    }

    var body: some View {
        ZStack {
            OvalCutout(oval: oval).fill(Color.black.opacity(0.55), style: FillStyle(eoFill: true))
            Ellipse()
                .stroke(ok ? Color.green : Color.orange, lineWidth: 4)
                .frame(width: oval.width, height: oval.height)
                .position(x: oval.midX, y: oval.midY)
        }
        .accessibilityElement()
        .accessibilityLabel(Text(LivenessStrings.ui("liveness_cd_face_oval")))
    }
}

struct OvalCutout: Shape {
    let oval: CGRect

    func path(in rect: CGRect) -> Path {
        var path = Rectangle().path(in: rect)
        path.addEllipse(in: oval)
        return path
    }
}

/// `AVCaptureVideoPreviewLayer` in SwiftUI (mirrored like a selfie camera by default).
struct CameraPreview: UIViewRepresentable {
    let session: AVCaptureSession

    final class PreviewView: UIView {
        override class var layerClass: AnyClass { AVCaptureVideoPreviewLayer.self }
        var previewLayer: AVCaptureVideoPreviewLayer { layer as! AVCaptureVideoPreviewLayer }
    }

    func makeUIView(context: Context) -> PreviewView {
        let view = PreviewView()
        view.previewLayer.session = session
        view.previewLayer.videoGravity = .resizeAspectFill
        view.isAccessibilityElement = true
        return view
    }

    func updateUIView(_ uiView: PreviewView, context: Context) {}
}
#endif
