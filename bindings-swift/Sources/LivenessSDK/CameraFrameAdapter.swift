import AVFoundation
import CoreMedia
import CoreVideo
import Foundation

/// Feeds `AVCaptureVideoDataOutput` frames to a `Liveness` session: BGRA
/// (`kCVPixelFormatType_32BGRA`) as one packed plane, or 420f/420v
/// (`kCVPixelFormatType_420YpCbCr8BiPlanar…`) as the Y plane and the interleaved CbCr plane,
/// each with its row stride (bytes per row, padding included); 420v is marked video range
/// (Y 16–235) so the core reads its black as black. The planes are copied once,
/// while the pixel buffer is locked; the buffer goes back to the camera as soon as this returns.
///
/// Configure the connection so buffers arrive upright (portrait) and unmirrored, or pass the
/// rotation and mirroring that make them so. `onSessionEnded` runs once when the session stops
/// taking frames: stop the capture session there.
public final class CameraFrameAdapter: NSObject, AVCaptureVideoDataOutputSampleBufferDelegate, @unchecked Sendable {
    private let liveness: Liveness
    private let rotationDegrees: UInt32
    private let mirrored: Bool
    private let onSessionEnded: @Sendable () -> Void
    private let lock = NSLock()
    private var ended = false

    /// The pixel formats this adapter reads, best first: set one as the output's
    /// `videoSettings[kCVPixelBufferPixelFormatTypeKey]`.
    public static let supportedPixelFormats: [OSType] = [
        kCVPixelFormatType_420YpCbCr8BiPlanarFullRange,
        kCVPixelFormatType_420YpCbCr8BiPlanarVideoRange,
        kCVPixelFormatType_32BGRA,
    ]

    public init(
        liveness: Liveness,
        rotationDegrees: UInt32 = 0,
        mirrored: Bool = false,
        onSessionEnded: @escaping @Sendable () -> Void = {}
    ) {
        self.liveness = liveness
        self.rotationDegrees = rotationDegrees
        self.mirrored = mirrored
        self.onSessionEnded = onSessionEnded
    }

    public func captureOutput(
        _ output: AVCaptureOutput,
        didOutput sampleBuffer: CMSampleBuffer,
        from connection: AVCaptureConnection
    ) {
        guard let pixelBuffer = CMSampleBufferGetImageBuffer(sampleBuffer) else { return }
        let time = CMSampleBufferGetPresentationTimeStamp(sampleBuffer)
        let timestampMs = time.isValid ? UInt64(max(0, CMTimeGetSeconds(time) * 1000)) : 0
        guard let image = Self.image(of: pixelBuffer) else { return }
        let frame = HostFrame(
            timestampMs: timestampMs,
            rotationDegrees: rotationDegrees,
            mirrored: mirrored,
            image: image
        )
        let result = (try? liveness.push(frame)) ?? .accepted
        if result == .closed {
            lock.lock()
            let first = !ended
            ended = true
            lock.unlock()
            if first { onSessionEnded() }
        }
    }

    /// The frame's planes with their strides, or nil for a format the SDK does not read.
    static func image(of pixelBuffer: CVPixelBuffer) -> FrameImage? {
        guard CVPixelBufferLockBaseAddress(pixelBuffer, .readOnly) == kCVReturnSuccess else { return nil }
        defer { CVPixelBufferUnlockBaseAddress(pixelBuffer, .readOnly) }
        let width = UInt32(CVPixelBufferGetWidth(pixelBuffer))
        let height = UInt32(CVPixelBufferGetHeight(pixelBuffer))
        switch CVPixelBufferGetPixelFormatType(pixelBuffer) {
        case kCVPixelFormatType_32BGRA:
            guard let base = CVPixelBufferGetBaseAddress(pixelBuffer) else { return nil }
            let stride = CVPixelBufferGetBytesPerRow(pixelBuffer)
            return .packed(
                format: .bgra8,
                width: width,
                height: height,
                rowStride: UInt32(stride),
                bytes: Data(bytes: base, count: stride * Int(height))
            )
        case let format where format == kCVPixelFormatType_420YpCbCr8BiPlanarFullRange
            || format == kCVPixelFormatType_420YpCbCr8BiPlanarVideoRange:
            guard CVPixelBufferGetPlaneCount(pixelBuffer) == 2,
                  let yBase = CVPixelBufferGetBaseAddressOfPlane(pixelBuffer, 0),
                  let cBase = CVPixelBufferGetBaseAddressOfPlane(pixelBuffer, 1)
            else { return nil }
            let yStride = CVPixelBufferGetBytesPerRowOfPlane(pixelBuffer, 0)
            let cStride = CVPixelBufferGetBytesPerRowOfPlane(pixelBuffer, 1)
            let cRows = CVPixelBufferGetHeightOfPlane(pixelBuffer, 1)
            let y = Data(bytes: yBase, count: yStride * Int(height))
            let cbcr = Data(bytes: cBase, count: cStride * cRows)
            // Cb and Cr interleave: U is the plane from byte 0, V from byte 1, both stride 2.
            return .yuv420(
                width: width,
                height: height,
                y: FramePlane(bytes: y, rowStride: UInt32(yStride), pixelStride: 1),
                u: FramePlane(bytes: cbcr, rowStride: UInt32(cStride), pixelStride: 2),
                v: FramePlane(bytes: Data(cbcr.dropFirst()), rowStride: UInt32(cStride), pixelStride: 2),
                // 420v keeps Y in 16–235 and chroma in 16–240: the core stretches it.
                videoRange: format == kCVPixelFormatType_420YpCbCr8BiPlanarVideoRange
            )
        default:
            return nil
        }
    }
}
