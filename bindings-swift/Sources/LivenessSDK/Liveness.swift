import Foundation

/// One liveness session, the Swift way: `run()` is `async throws` (cancelling the task cancels
/// the session), `events` is an `AsyncStream` of guidance, prompts and progress.
///
/// `sessionJSON` is what the app's backend got from `POST /v1/sessions` (the backend keeps the
/// result token; the SDK ignores it if present). Frames arrive from `CameraFrameAdapter`
/// (AVFoundation), from `push(_:)`, or from a `FrameProvider` passed to `run(provider:)`.
public final class Liveness: @unchecked Sendable {
    public let info: SessionInfo
    /// Every event of the session, from the first guidance to the server's answer. Buffered
    /// (newest 1024), so it can be iterated after `run()` has started. Ends with the session.
    public let events: AsyncStream<LivenessEvent>

    private let session: LivenessSession
    private let relay: EventRelay

    public init(
        serverURL: URL,
        sessionJSON: String,
        config: LivenessConfig,
        keyStore: DeviceKeyStore,
        attestation: AttestationProvider? = nil
    ) throws {
        let (stream, continuation) = AsyncStream<LivenessEvent>.makeStream(
            bufferingPolicy: .bufferingNewest(1024)
        )
        events = stream
        relay = EventRelay(continuation)
        session = try LivenessSession(
            serverUrl: serverURL.absoluteString,
            sessionJson: sessionJSON,
            config: config,
            keyStore: keyStore,
            observer: relay,
            attestation: attestation
        )
        info = session.info()
    }

    deinit {
        session.cancel()
        relay.finish()
    }

    /// Runs the session to the server's answer. Throws `LivenessError` (see `code` and
    /// `recovery`); cancelling the calling task cancels the session and releases the camera.
    public func run(provider: FrameProvider? = nil) async throws -> LivenessResult {
        defer { relay.finish() }
        let session = self.session
        return try await withTaskCancellationHandler {
            try await session.run(provider: provider)
        } onCancel: {
            session.cancel()
        }
    }

    /// A frame by copy; a malformed one throws `LivenessError.InvalidFrame`.
    @discardableResult
    public func push(_ frame: HostFrame) throws -> PushResult {
        try session.pushFrame(frame: frame)
    }

    /// The camera stopped: the session sees the end of the frames.
    /// The light step: colour `index` of a `.screen` event is on the glass since `timestampMs`,
    /// in the frames' clock (host time, as `CMSampleBuffer` presentation times use).
    public func screenPresented(index: UInt8, timestampMs: UInt64) {
        session.screenPresented(index: index, tMs: timestampMs)
    }

    public func endOfFrames() {
        session.endOfFrames()
    }

    /// The camera could not be started or failed: `run()` throws `CameraUnavailable` with
    /// `detail`, and the server is told `camera_unavailable`.
    public func cameraFailed(detail: String) {
        session.cameraFailed(detail: detail)
    }

    /// The user refused the camera: `run()` throws `PermissionDenied` at once, and the server
    /// is told, so the integrator has its verdict now.
    public func permissionDenied() {
        session.cameraPermissionDenied()
    }

    /// Stops the session from any thread; `run()` throws `LivenessError.Cancelled`.
    public func cancel() {
        session.cancel()
    }

    public var isCancelled: Bool { session.isCancelled() }
}

/// Receives events on the SDK's threads and hands them to the stream (thread-safe).
final class EventRelay: LivenessObserver, @unchecked Sendable {
    private let continuation: AsyncStream<LivenessEvent>.Continuation

    init(_ continuation: AsyncStream<LivenessEvent>.Continuation) {
        self.continuation = continuation
    }

    func onEvent(event: LivenessEvent) throws {
        continuation.yield(event)
    }

    func finish() {
        continuation.finish()
    }
}

extension LivenessError {
    /// The stable code (`token_expired`, `network`, …).
    public var code: String {
        switch self {
        case let .CameraUnavailable(code, _, _), let .PermissionDenied(code, _, _),
             let .TokenExpired(code, _, _), let .Network(code, _, _),
             let .ServerRejected(code, _, _, _, _), let .Cancelled(code, _, _),
             let .Timeout(code, _, _), let .ModelLoad(code, _, _),
             let .InvalidFrame(code, _, _), let .InvalidInput(code, _, _),
             let .NoEvidence(code, _, _), let .KeyStore(code, _, _),
             let .Internal(code, _, _):
            return code
        }
    }

    /// What the app or its user can do about it, in English (see `localizedRecovery`).
    public var recovery: String {
        switch self {
        case let .CameraUnavailable(_, _, recovery), let .PermissionDenied(_, _, recovery),
             let .TokenExpired(_, _, recovery), let .Network(_, _, recovery),
             let .ServerRejected(_, _, recovery, _, _), let .Cancelled(_, _, recovery),
             let .Timeout(_, _, recovery), let .ModelLoad(_, _, recovery),
             let .InvalidFrame(_, _, recovery), let .InvalidInput(_, _, recovery),
             let .NoEvidence(_, _, recovery), let .KeyStore(_, _, recovery),
             let .Internal(_, _, recovery):
            return recovery
        }
    }

    /// The message for the user, in the app's language.
    public var localizedRecovery: String {
        LivenessStrings.error(code, fallback: recovery)
    }
}
