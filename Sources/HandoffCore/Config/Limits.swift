/// Every size, count and time limit of the library, in one place. Each has a
/// test at its boundary.
public enum Limits {
    /// Longest shared_id or conversation id accepted, in bytes.
    public static let maxIDBytes = 1024
    /// Longest account_id, project_id or user_agent, in bytes.
    public static let maxNameBytes = 256
    /// Longest API key, in bytes.
    public static let maxAPIKeyBytes = 4096
    /// Largest configuration file read, in bytes.
    public static let maxConfigFileBytes = 1 << 20
    /// Largest api_key_file read, in bytes: the longest key with room for a
    /// byte order mark, line ends and a little more. Only the first line is used.
    public static let maxAPIKeyFileBytes = maxAPIKeyBytes + 64
    /// Largest ca_file (or libcurl's default CA bundle) read, in bytes;
    /// Debian's bundle of about 140 certificates is 220 KB.
    public static let maxCAFileBytes = 8 << 20
    /// Range of timeout_ms and connect_timeout_ms.
    public static let timeoutRange = 1...600_000
    public static let defaultTimeoutMs = 2000
    /// Range of max_response_bytes.
    public static let responseBytesRange = 1024...16_777_216
    public static let defaultMaxResponseBytes = 65536
    /// Deepest JSON nesting a response may have before it is refused as
    /// HANDOFF_PROTOCOL; keeps every walk over it shallow on small PBX stacks.
    public static let maxDocumentDepth = 64
    /// Longest header_prefix or variable_prefix, and longest rename target.
    public static let maxPrefixBytes = 64
    /// Longest flattened key kept, in bytes (longer ones are cut).
    public static let maxKeyBytes = 512
    /// Longest generated header or variable name, in bytes.
    public static let maxGeneratedNameBytes = 128
    /// Ranges and defaults of the rendering bounds.
    public static let valueBytesRange = 1...4096
    public static let defaultMaxValueBytes = 256
    public static let entriesRange = 0...1024
    public static let defaultMaxEntries = 32
    public static let depthRange = 1...32
    public static let defaultMaxDepth = 8
    public static let headerBlockBytesRange = 128...65536
    public static let defaultMaxHeaderBlockBytes = 1024
    /// Resilience settings: ranges and defaults.
    public static let retriesRange = 0...5
    public static let defaultRetries = 1
    public static let breakerFailuresRange = 0...1000
    public static let defaultBreakerFailures = 5
    public static let breakerCooldownRange = 1...600_000
    public static let defaultBreakerCooldownMs = 5000
    public static let inFlightRange = 1...100_000
    public static let defaultMaxInFlight = 256
    public static let cacheTTLRange = 0...86_400_000
    public static let cacheEntriesRange = 1...1_000_000
    public static let defaultCacheMaxEntries = 1024
    /// First retry waits about this long (jittered, doubling per attempt).
    public static let retryBackoffBaseMs = 25
    /// A retry is only made if at least this much time would be left for it.
    public static let minRetryAttemptMs = 20
    /// Times a lookup joins a shared request for its id: a follower whose
    /// leader timed out on a shorter deadline joins again while time is left.
    public static let maxFlightJoins = 3
    /// How far past the library's own deadline libcurl's timers are set, so
    /// that they never fire first (libcurl 7.88 rounds to whole milliseconds).
    public static let curlTimerSlackMs = 50
    /// Descriptors searched, from the lowest free one, for the wakeup socket
    /// pair a new libcurl multi handle makes (see Descriptors). Eight
    /// threads making slots at once put the pair 20 above the lowest free
    /// one (test_transport, once in seven loaded runs with a window of 8).
    public static let wakeupPairSearchWindow: Int32 = 64
    /// Connections the I/O thread of queued lookups opens at once (more
    /// transfers wait inside libcurl for one; over HTTP/2 they share them).
    public static let connectionsRange = 1...65_536
    public static let defaultMaxConnections = 512
    /// Lookups a queue holds at once, waiting or ready to be taken.
    public static let maxQueuedLookups = 100_000
    /// Log lines of queued lookups a queue keeps until its next
    /// handoff_queue_next; later ones are counted and dropped.
    public static let maxQueuedLogLines = 1024
    /// A reservation's attributes: largest JSON accepted, deepest nesting.
    public static let maxAttributesBytes = 16384
    public static let maxAttributesDepth = 16
    /// The attributes builder: values, key length, key parts, value length.
    public static let maxAttributes = 256
    public static let maxAttributeKeyBytes = 256
    public static let maxAttributeKeyParts = 8
    public static let maxAttributeValueBytes = 4096
    /// Most digits of a reserved DNI (E.164 has at most 15; room for
    /// national and internal numbering).
    public static let maxDNIDigits = 32
    /// Longest `interface` value, and most `resolve` entries.
    public static let maxInterfaceBytes = 64
    public static let maxResolveEntries = 32
    /// How often, at most, a client checks whether its key files changed.
    public static let keyRecheckMs = 1000
    /// Idle transfer slots (each with its kept-alive connection) a client keeps.
    public static let maxIdleConnections = 32
    /// warm_connections: at most the idle slots a client keeps (a warmed
    /// connection beyond them would be closed at once).
    public static let warmConnectionsRange = 0...maxIdleConnections
    /// connection_max_idle_ms: below the idle timeouts in front of APIs
    /// (AWS ALB 60 s, nginx 75 s), and at most 110 s: libcurl 7.88 never
    /// reuses a connection idle for 118 s (CURLOPT_MAXAGE_CONN).
    public static let connectionMaxIdleRange = 100...110_000
    public static let defaultConnectionMaxIdleMs = 45_000
    /// Keep-warm looks at the idle connections 8 times per
    /// connection_max_idle_ms and replaces those idle for 6/8 of it, so none
    /// is idle much past 7/8.
    public static let keepWarmChecksPerMaxIdle = 8
    public static let keepWarmReplaceEighths = 6
    /// keep_warm_ms: 0 turns keep-warm off; the default keeps a process
    /// that looks up every few minutes warm, and one left idle stops within
    /// ten minutes.
    public static let keepWarmRange = 0...86_400_000
    public static let defaultKeepWarmMs = 600_000
    /// hedge_after_ms (0: off) and hedge_max_percent; a hedge budget saved
    /// up in a quiet spell never exceeds this many hedges.
    public static let hedgeAfterRange = 0...600_000
    public static let hedgePercentRange = 0...100
    public static let defaultHedgeMaxPercent = 5
    public static let hedgeBurst = 10
    /// Less time than this left in the deadline: no hedge is sent (it could
    /// not be answered in time).
    public static let minHedgeMs = 20
    /// How long a lookup's DNS answer is kept (libcurl's default; a
    /// warm-up never takes a cached one).
    static let dnsCacheSeconds = 60
    /// How long the I/O thread sleeps with nothing to do (no transfer, no
    /// timer): anything new wakes it at once.
    static let idleLoopWaitMs: Int32 = 60_000
    /// hedge_after_ms = auto: the p95 of the last this many answers, known
    /// once this many came, recomputed every this many.
    public static let latencyWindowSize = 512
    public static let adaptiveHedgeMinSamples = 50
    public static let latencyResortEvery = 32
}
