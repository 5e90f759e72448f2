import Foundation

/// How QA starts a session: the backend's `POST /v1/sessions` JSON (pasted or scanned, with
/// the server URL inside as `server_url` or typed), or, on a QA server only, a session created
/// here with a tenant API key. Real apps never hold an API key.
struct SessionTicket: Equatable {
    let serverURL: URL
    let sessionJSON: String
}

/// The settings screen: which challenges the session asks for.
struct ChallengeOptions: Equatable {
    static let all = ["HeadLeft", "HeadRight", "HeadUp", "HeadDown", "MoveTowardsCamera",
                      "MoveAwayFromCamera", "FollowText", "BlinkEyes", "Smile"]

    var random = true
    var fixed = "BlinkEyes"
    var available: Set<String> = []
    var count = 2
    /// The screen-light step (on unless the user asked for the no-flash path).
    var lightChallenge = true

    var json: String {
        var body: [String: Any] = ["action": random ? "Random" : fixed]
        if !lightChallenge { body["light_challenge"] = false }
        if random {
            body["challenge_count"] = count
            if !available.isEmpty { body["available_actions"] = available.sorted() }
        }
        let data = (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

struct SetupError: LocalizedError {
    let errorDescription: String?
    init(_ message: String) { errorDescription = message }
}

enum SessionSetup {
    static func parse(_ text: String, typedServerURL: String) throws -> SessionTicket {
        let json = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else {
            throw SetupError("Expected the session JSON from POST /v1/sessions")
        }
        guard object["submission_token"] is String else {
            throw SetupError("The JSON has no submission_token: is it a session?")
        }
        let url = (object["server_url"] as? String) ?? typedServerURL
        return SessionTicket(serverURL: try checkURL(url), sessionJSON: json)
    }

    static func checkURL(_ text: String) throws -> URL {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let url = URL(string: trimmed.hasSuffix("/") ? String(trimmed.dropLast()) : trimmed),
              let host = url.host, let scheme = url.scheme
        else { throw SetupError("Enter the server URL (or scan a code that includes it)") }
        let loopback = ["127.0.0.1", "localhost"].contains(host)
        guard scheme == "https" || (scheme == "http" && loopback) else {
            throw SetupError("Use https (http only for a local server)")
        }
        return url
    }

    /// QA only: create the session from the app with a tenant API key.
    static func create(serverURL: String, apiKey: String, options: ChallengeOptions) async throws -> SessionTicket {
        let url = try checkURL(serverURL)
        var request = URLRequest(url: url.appendingPathComponent("v1/sessions"), timeoutInterval: 20)
        request.httpMethod = "POST"
        request.setValue("Bearer \(apiKey.trimmingCharacters(in: .whitespaces))", forHTTPHeaderField: "Authorization")
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(options.json.utf8)
        let (data, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        let body = String(decoding: data, as: UTF8.self)
        guard status == 201 else { throw SetupError("The server refused to create a session (\(status)): \(body)") }
        return SessionTicket(serverURL: url, sessionJSON: body)
    }
}
