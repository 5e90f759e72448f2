import Foundation

/// What a liveness screen shows, folded from the session's events. Codes key the localised
/// strings (`liveness_prompt_<code>`, …); the English texts are fallbacks.
public struct LivenessUIState: Equatable, Sendable {
    public enum Phase: Equatable, Sendable { case capturing, submitting, finished, failed }

    public var phase: Phase = .capturing
    public var challenges: [Challenge] = []
    public var promptCode: String?
    public var promptText: String?
    /// Where the FollowText target is, 0...1 of the preview (x right, y down).
    public var target: CGPoint?
    public var guidanceCode: String?
    public var guidanceText: String?
    public var stepProgress: Float = 0
    public var sessionProgress: Float = 0
    public var challengeIndex: Int?
    public var localPassed: Bool?
    public var jobStatus: String?
    public var errorCode: String?
    /// The light step's colour to paint full screen around the preview (0...1 RGB) and its
    /// index for `Liveness.screenPresented`; nil outside the flashes.
    public var screenColor: (red: Double, green: Double, blue: Double)?
    public var screenIndex: UInt8?
    /// The light step is under way: full brightness, the notice announced.
    public var lightStep: Bool { promptCode == "light_check" }

    public init(challenges: [Challenge] = []) {
        self.challenges = challenges
    }

    public mutating func apply(_ event: LivenessEvent) {
        switch event {
        case let .guidance(code, text):
            guidanceCode = code
            guidanceText = text
        case let .prompt(code, text, targetX, targetY):
            promptCode = code
            promptText = text
            if let x = targetX, let y = targetY {
                target = CGPoint(x: CGFloat(x), y: CGFloat(y))
            } else {
                target = nil
            }
        case let .progress(step, session):
            stepProgress = step
            sessionProgress = session
        case let .challengeStarted(index, _):
            challengeIndex = Int(index)
        case .challengeFinished, .captured, .submitted:
            break
        case let .localOutcome(passed, _):
            localPassed = passed
            phase = .submitting
            guidanceCode = nil
            guidanceText = nil
            target = nil
            screenColor = nil
            screenIndex = nil
        case .submitting:
            phase = .submitting
        case let .finished(_, status):
            phase = .finished
            jobStatus = status
            sessionProgress = 1
        case let .failed(code, _):
            phase = .failed
            errorCode = code
            screenColor = nil
            screenIndex = nil
        case let .screen(index, red, green, blue):
            if let r = red, let g = green, let b = blue {
                screenColor = (Double(r) / 255, Double(g) / 255, Double(b) / 255)
                screenIndex = index
            } else {
                screenColor = nil
                screenIndex = nil
            }
        }
    }

    /// The prompt in the user's language (the submitting message once capture is over).
    public var localizedPrompt: String? {
        if phase == .submitting { return LivenessStrings.ui("liveness_submitting") }
        guard let code = promptCode else { return promptText }
        return LivenessStrings.prompt(code, fallback: promptText ?? code)
    }

    public var localizedGuidance: String? {
        guard let code = guidanceCode else { return nil }
        return LivenessStrings.guidance(code, fallback: guidanceText ?? code)
    }
}
