import AVFoundation
import Foundation

/// The front camera for a session: an `AVCaptureSession` with a video data output in 420f,
/// portrait and unmirrored buffers, late frames discarded (the SDK keeps only the newest
/// anyway), delivering to a `CameraFrameAdapter`. `start()` asks for permission first.
public final class LivenessCamera: @unchecked Sendable {
    public let captureSession = AVCaptureSession()
    private let queue = DispatchQueue(label: "io.openliveness.liveness.camera")
    private let output = AVCaptureVideoDataOutput()
    private var adapter: CameraFrameAdapter?

    public init() {}

    /// Configures and starts the camera feeding `liveness`. Throws `PermissionDenied` or
    /// `CameraUnavailable` with their recovery hints.
    public func start(feeding liveness: Liveness) async throws {
        switch AVCaptureDevice.authorizationStatus(for: .video) {
        case .authorized:
            break
        case .notDetermined:
            guard await AVCaptureDevice.requestAccess(for: .video) else { throw Self.denied }
        default:
            throw Self.denied
        }
        guard let device = AVCaptureDevice.default(.builtInWideAngleCamera, for: .video, position: .front)
            ?? AVCaptureDevice.default(for: .video)
        else {
            throw Self.unavailable("this device has no camera")
        }
        let input: AVCaptureDeviceInput
        do {
            input = try AVCaptureDeviceInput(device: device)
        } catch {
            throw Self.unavailable(error.localizedDescription)
        }
        let adapter = CameraFrameAdapter(liveness: liveness) { [weak self] in self?.stop() }
        self.adapter = adapter
        try await withCheckedThrowingContinuation { (done: CheckedContinuation<Void, Error>) in
            queue.async { [self] in
                captureSession.beginConfiguration()
                captureSession.sessionPreset = .vga640x480
                for old in captureSession.inputs { captureSession.removeInput(old) }
                for old in captureSession.outputs { captureSession.removeOutput(old) }
                guard captureSession.canAddInput(input), captureSession.canAddOutput(output) else {
                    captureSession.commitConfiguration()
                    done.resume(throwing: Self.unavailable("the camera cannot be configured"))
                    return
                }
                captureSession.addInput(input)
                output.videoSettings = [
                    kCVPixelBufferPixelFormatTypeKey as String: kCVPixelFormatType_420YpCbCr8BiPlanarFullRange,
                ]
                output.alwaysDiscardsLateVideoFrames = true
                output.setSampleBufferDelegate(adapter, queue: queue)
                captureSession.addOutput(output)
                if let connection = output.connection(with: .video) {
                    #if os(iOS)
                    if #available(iOS 17.0, *) {
                        if connection.isVideoRotationAngleSupported(90) { connection.videoRotationAngle = 90 }
                    } else if connection.isVideoOrientationSupported {
                        connection.videoOrientation = .portrait
                    }
                    #endif
                    if connection.isVideoMirroringSupported {
                        connection.automaticallyAdjustsVideoMirroring = false
                        connection.isVideoMirrored = false
                    }
                }
                captureSession.commitConfiguration()
                captureSession.startRunning()
                done.resume()
            }
        }
    }

    /// Stops the camera (the green dot goes off). Safe to call more than once.
    public func stop() {
        queue.async { [self] in
            if captureSession.isRunning { captureSession.stopRunning() }
            output.setSampleBufferDelegate(nil, queue: nil)
        }
    }

    private static let denied = LivenessError.PermissionDenied(
        code: "permission_denied",
        detail: "camera access was denied",
        recovery: "Ask the user to allow camera access in the system settings."
    )

    private static func unavailable(_ why: String) -> LivenessError {
        .CameraUnavailable(
            code: "camera_unavailable",
            detail: "no camera is available: \(why)",
            recovery: "Check that a camera is connected and not used by another app."
        )
    }
}
