package main

// Every environment variable the binary reads, in one place. Each flag of
// `kms server` falls back to the variable named beside it; `kms account
// create` and `kms audit` read the data dir and seal ones too.
const (
	envDataDir           = "KMS_DATA_DIR"               // --data-dir
	envEphemeral         = "KMS_EPHEMERAL"              // --ephemeral (1 or true)
	envStore             = "KMS_STORE"                  // --store (postgres://...; empty: embedded)
	envListen            = "KMS_LISTEN"                 // --listen
	envAccountID         = "KMS_ACCOUNT_ID"             // --account-id
	envRegions           = "KMS_REGIONS"                // --regions (comma-separated)
	envTLSCert           = "KMS_TLS_CERT"               // --tls-cert
	envTLSKey            = "KMS_TLS_KEY"                // --tls-key
	envInsecureHTTP      = "KMS_INSECURE_HTTP"          // --insecure-http ("true")
	envSealKeyFile       = "KMS_SEAL_KEY_FILE"          // --seal-key-file
	envSealPassphrase    = "KMS_SEAL_PASSPHRASE"        // passphrase seal; no flag, so it stays out of ps
	envSeal              = "KMS_SEAL"                   // --seal (file, passphrase or pkcs11)
	envPKCS11Module      = "KMS_PKCS11_MODULE"          // --pkcs11-module
	envPKCS11Token       = "KMS_PKCS11_TOKEN_LABEL"     // --pkcs11-token-label
	envPKCS11Slot        = "KMS_PKCS11_SLOT"            // --pkcs11-slot
	envPKCS11KeyLabel    = "KMS_PKCS11_KEY_LABEL"       // --pkcs11-key-label
	envPKCS11PIN         = "KMS_PKCS11_PIN"             // the token's user PIN; no flag, so it stays out of ps
	envNewSealPassphrase = "KMS_NEW_SEAL_PASSPHRASE"    // kms seal rotate --new-seal passphrase
	envNewPKCS11PIN      = "KMS_NEW_PKCS11_PIN"         // kms seal rotate --new-seal pkcs11
	envRootAccessKeyID   = "KMS_ROOT_ACCESS_KEY_ID"     // --root-access-key-id (first start only)
	envRootSecretKey     = "KMS_ROOT_SECRET_ACCESS_KEY" // --root-secret-access-key (first start only)
	envAllowCustomIDs    = "KMS_ALLOW_CUSTOM_KEY_IDS"   // --allow-custom-key-ids ("true")
	envLogLevel          = "KMS_LOG_LEVEL"              // --log-level (debug, info, warn, error)
	envAuditRetention    = "KMS_AUDIT_RETENTION"        // --audit-retention (e.g. 90d; empty keeps forever)
	envAuditSync         = "KMS_AUDIT_SYNC"             // --audit-sync (changes or always)
	envAuditSyncEvery    = "KMS_AUDIT_SYNC_INTERVAL"    // --audit-sync-interval (e.g. 10ms)
	envPprofListen       = "KMS_PPROF_LISTEN"           // --pprof-listen (loopback only; empty: off)
	envSeed              = "KMS_SEED"                   // --seed (a seed file applied at every start)
	envQuotas            = "KMS_QUOTAS"                 // --quotas (off, aws, or a quota file)
	envAdminListen       = "KMS_ADMIN_LISTEN"           // --admin-listen (metrics, health; empty: off)
	envAdminInsecure     = "KMS_ADMIN_INSECURE_HTTP"    // --admin-insecure-http ("true")
	envAdminPprof        = "KMS_ADMIN_PPROF"            // --admin-pprof ("true"; loopback only)
	envNoConsole         = "KMS_NO_CONSOLE"             // --no-console ("true")
	envLogFormat         = "KMS_LOG_FORMAT"             // --log-format (text or json)
)
