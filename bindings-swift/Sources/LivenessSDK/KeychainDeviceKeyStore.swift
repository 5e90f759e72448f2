import Foundation
import Security

/// The device key's 32-byte seed in the Keychain: this device only, readable after the first
/// unlock (so a session can start from a notification), never in backups.
public final class KeychainDeviceKeyStore: DeviceKeyStore, @unchecked Sendable {
    private let service: String
    private let account: String

    public init(service: String = "io.openliveness.liveness", account: String = "device-key") {
        self.service = service
        self.account = account
    }

    private var query: [String: Any] {
        [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrService as String: service,
            kSecAttrAccount as String: account,
        ]
    }

    private func failure(_ what: String, _ status: OSStatus) -> LivenessError {
        let message = SecCopyErrorMessageString(status, nil) as String? ?? "OSStatus \(status)"
        return .KeyStore(
            code: "key_store",
            detail: "\(what): \(message)",
            recovery: "Check that the device is unlocked; deleting and reinstalling the app creates a new device key."
        )
    }

    public func load() throws -> Data? {
        var q = query
        q[kSecReturnData as String] = true
        q[kSecMatchLimit as String] = kSecMatchLimitOne
        var item: CFTypeRef?
        let status = SecItemCopyMatching(q as CFDictionary, &item)
        switch status {
        case errSecSuccess:
            return item as? Data
        case errSecItemNotFound:
            return nil
        default:
            throw failure("reading the device key", status)
        }
    }

    public func store(seed: Data) throws {
        var add = query
        add[kSecValueData as String] = seed
        add[kSecAttrAccessible as String] = kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly
        var status = SecItemAdd(add as CFDictionary, nil)
        if status == errSecDuplicateItem {
            status = SecItemUpdate(query as CFDictionary, [kSecValueData as String: seed] as CFDictionary)
        }
        guard status == errSecSuccess else { throw failure("storing the device key", status) }
    }
}
