import Foundation

/// Localised text for the SDK's stable codes, from this package's `Localizable.strings`
/// (en, es, fr, de, id, pt). Keys are `liveness_prompt_<code>`, `liveness_guidance_<code>`,
/// `liveness_error_<code>` (the Android library uses the same keys); a test checks that every
/// code the core can send has all six translations and that every key is used.
public enum LivenessStrings {
    static func lookup(_ key: String, fallback: String) -> String {
        NSLocalizedString(key, tableName: "Localizable", bundle: .module, value: fallback, comment: "")
    }

    public static func prompt(_ code: String, fallback: String) -> String {
        lookup("liveness_prompt_\(code)", fallback: fallback)
    }

    public static func guidance(_ code: String, fallback: String) -> String {
        lookup("liveness_guidance_\(code)", fallback: fallback)
    }

    public static func error(_ code: String, fallback: String) -> String {
        lookup("liveness_error_\(code)", fallback: fallback)
    }

    /// The view's own texts (titles, VoiceOver labels).
    public static func ui(_ key: String) -> String {
        lookup(key, fallback: key)
    }

    /// `liveness_cd_progress` with the percentage filled in.
    public static func progressLabel(percent: Int) -> String {
        String(format: ui("liveness_cd_progress"), locale: Locale.current, Int32(percent))
    }
}
