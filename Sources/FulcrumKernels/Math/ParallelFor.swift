import Dispatch
import Synchronization
import CBLASShim

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Fulcrum's threads: a deterministic parallel-for over fixed blocks of rows, and the one
/// setting that keeps Fulcrum's workers and OpenBLAS's from oversubscribing the cores.
///
/// Work is always cut into blocks whose boundaries depend only on the problem size, never on the
/// thread count; each block's partial result lands in its own slot and slots are combined in
/// block order. The same inputs therefore give bitwise the same outputs with 1 or 64 threads.
///
/// Rule for kernels: a parallel-for body never calls BLAS. BLAS is called from the calling thread,
/// where it may use all `threadCount` threads itself.
public enum Threads {
    private static let configured = Mutex(0)

    /// The number of worker threads Fulcrum kernels use, and the number OpenBLAS uses.
    ///
    /// Defaults to the number of online processors. Setting it also sets OpenBLAS's thread count
    /// (`openblas_set_num_threads`) so that the two never run more threads than asked for.
    ///
    /// - Throws: `FulcrumError.invalidParameter` for a count below 1.
    public static func setCount(_ count: Int) throws {
        guard count >= 1 else {
            throw FulcrumError.invalidParameter(argument: "count", value: "\(count)", requirement: ">= 1")
        }
        configured.withLock { $0 = count }
        openblas_set_num_threads(Int32(count))
    }

    /// The current worker count (see `setCount(_:)`).
    public static var count: Int {
        let value = configured.withLock { $0 }
        return value > 0 ? value : processorCount
    }

    /// Online processors of this machine.
    public static var processorCount: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// Calls `body(blockIndex, rowRange)` for every block of `blockSize` consecutive indices in
    /// `0..<count`, on up to `Threads.count` threads, and returns when all have finished.
    ///
    /// Blocks are claimed dynamically (an atomic counter), so the thread that runs a block varies
    /// between calls; `body` must write only to memory owned by its block for the result to be
    /// deterministic. With one thread (or one block) it runs inline on the caller's thread, and so
    /// does a parallel-for called from inside another one's body: the outer one already keeps
    /// every thread busy, and the inner one then costs no wake-ups.
    public static func forEachBlock(
        count: Int, blockSize: Int, _ body: (_ block: Int, _ range: Range<Int>) -> Void
    ) {
        let blockSize = max(1, blockSize)
        let blocks = (count + blockSize - 1) / blockSize
        let workers = min(Threads.count, blocks)
        guard workers > 1, pthread_getspecific(workerKey) == nil else {
            for b in 0..<blocks { body(b, b * blockSize ..< min(count, (b + 1) * blockSize)) }
            return
        }
        let next = Atomic(0)
        withoutActuallyEscaping(body) { body in
            let sendableBody = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: workers) { _ in
                pthread_setspecific(workerKey, UnsafeRawPointer(bitPattern: 1))
                defer { pthread_setspecific(workerKey, nil) }
                while true {
                    let b = next.wrappingAdd(1, ordering: .relaxed).oldValue
                    if b >= blocks { return }
                    sendableBody.value(b, b * blockSize ..< min(count, (b + 1) * blockSize))
                }
            }
        }
    }
}

/// The thread-specific key that marks a thread running a parallel-for's blocks (non-nil while it does).
private let workerKey: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key, nil)
    return key
}()

/// Carries a value the compiler cannot prove `Sendable` into a worker closure. Used only where
/// each worker touches disjoint memory (the parallel-for's blocks).
@usableFromInline
struct UncheckedSendable<Value>: @unchecked Sendable {
    @usableFromInline let value: Value
    @usableFromInline init(_ value: Value) { self.value = value }
}
