import Dispatch
import Foundation
import FulcrumKernels

/// The limits of this machine, measured in the benchmark's own process so that every roofline
/// ratio compares two figures taken on the same, equally noisy machine. The header figures are
/// the fastest of a few runs at start-up; `copySample()` and `expSample()` take one more reading
/// at any moment, so that a case can sample the limits between its own runs (see
/// `BenchContext.timedAgainstLimits`).
final class MachineLimits {
    /// Stream copy (`a[i] = b[i]`, bytes read + bytes written) in GB/s, one thread and all threads.
    let copyOneThread: Double, copyAllThreads: Double
    /// Stream triad (`a[i] = b[i] + s·c[i]`, 3 arrays counted) in GB/s.
    let triadOneThread: Double, triadAllThreads: Double
    /// Register-resident fp32 FMA rate in GFLOP/s on all threads (2 flops per lane per FMA).
    let fmaPeakGFLOPs: Double
    /// Vector `exp` throughput on cache-resident Floats, Gelem/s on all threads, in `Float.Vector`s
    /// (16 lanes, the widest the kernels use and the fastest here: on AVX-512 the 8-lane loop
    /// runs about a third slower per element, so the gating kernel's 8-lane tiles are held to the
    /// 16-lane rate).
    let expGelemsPerSecond: Double
    private var gemmRates: [String: Double] = [:]
    private let quick: Bool
    /// The copy's source and destination, kept for `copySample()`: 512 MiB each (64 MiB quick),
    /// far beyond the last-level cache.
    private let source: UnsafeMutableBufferPointer<Float>, destination: UnsafeMutableBufferPointer<Float>

    init(quick: Bool) {
        self.quick = quick
        let elements = (quick ? 16 : 128) << 20  // Floats per array: 64 MiB quick, 512 MiB full
        let threads = Threads.count
        let a = UnsafeMutableBufferPointer<Float>.allocate(capacity: elements)
        let b = UnsafeMutableBufferPointer<Float>.allocate(capacity: elements)
        let c = UnsafeMutableBufferPointer<Float>.allocate(capacity: elements)
        defer { c.deallocate() }
        for buffer in [a, b, c] {
            MachineLimits.parallel(threads, count: elements) { (buffer.baseAddress! + $0.lowerBound).update(repeating: 1, count: $0.count) }
        }
        (source, destination) = (b, a)
        let bytes = Double(elements * MemoryLayout<Float>.stride)
        let runs = quick ? 2 : 5
        func triad(_ t: Int) -> Double {
            3 * bytes / MachineLimits.fastest(of: runs) { MachineLimits.parallel(t, count: elements) { r in
                let (x, y, dst) = (UnsafePointer(b.baseAddress! + r.lowerBound), UnsafePointer(c.baseAddress! + r.lowerBound), a.baseAddress! + r.lowerBound)
                var j = 0
                while j + 8 <= r.count {
                    let v = UnsafeRawPointer(x + j).loadUnaligned(as: SIMD8<Float>.self)
                    let w = UnsafeRawPointer(y + j).loadUnaligned(as: SIMD8<Float>.self)
                    UnsafeMutableRawPointer(dst + j).storeBytes(of: Float.multiplyAdd(w, SIMD8(repeating: 3), v), as: SIMD8<Float>.self)
                    j += 8
                }
            } } * 1e-9
        }
        copyOneThread = MachineLimits.copyRate(from: b, to: a, threads: 1, runs: runs)
        copyAllThreads = MachineLimits.copyRate(from: b, to: a, threads: threads, runs: runs)
        triadOneThread = triad(1)
        triadAllThreads = triad(threads)
        fmaPeakGFLOPs = MachineLimits.fmaPeak(threads: threads, runs: runs)
        expGelemsPerSecond = MachineLimits.expRate(threads: threads, repeats: 20_000, runs: runs)
    }

    deinit {
        source.deallocate()
        destination.deallocate()
    }

    /// One timed stream copy on all threads, in GB/s (bytes read + bytes written). It streams
    /// 1 GiB (128 MiB quick) through the caches, so whatever a case had cached is gone after it.
    func copySample() -> Double {
        MachineLimits.copyRate(from: source, to: destination, threads: Threads.count, runs: 1, warmUp: false)
    }

    /// One short timed run of the vector `exp` loop on all threads, in Gelem/s (about 5 ms).
    func expSample() -> Double {
        MachineLimits.expRate(threads: Threads.count, repeats: 2_000, runs: 1, warmUp: false)
    }

    /// The measured sgemm (or dgemm) rate in GFLOP/s for C(M×N) = op(A)·op(B) with inner size K,
    /// on `Threads.count` threads; measured once per shape and remembered.
    func gemmGFLOPs<T: FulcrumFloat>(_ type: T.Type, m: Int, n: Int, k: Int, transposeA: Bool = false, transposeB: Bool = false) -> Double {
        let key = "\(T.self) \(m) \(n) \(k) \(transposeA) \(transposeB)"
        if let rate = gemmRates[key] { return rate }
        var random = BenchRandom(seed: 7)
        let a = (0..<(m * k)).map { _ in T(random.uniform(-1, 1)) }
        let b = (0..<(k * n)).map { _ in T(random.uniform(-1, 1)) }
        var c = [T](repeating: 0, count: m * n)
        let seconds = a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
            let av = MatrixView(unchecked: pa.baseAddress, rows: transposeA ? k : m, columns: transposeA ? m : k, rowStride: transposeA ? m : k)
            let bv = MatrixView(unchecked: pb.baseAddress, rows: transposeB ? n : k, columns: transposeB ? k : n, rowStride: transposeB ? k : n)
            let cv = MutableMatrixView(unchecked: pc.baseAddress, rows: m, columns: n, rowStride: n)
            try? BLAS.gemm(av, transposeA: transposeA, bv, transposeB: transposeB, into: cv)
            var times: [Double] = []
            for _ in 0..<(quick ? 2 : 5) { times.append(MachineLimits.seconds { try? BLAS.gemm(av, transposeA: transposeA, bv, transposeB: transposeB, into: cv) }) }
            return times.sorted()[times.count / 2]
        } } }
        let rate = 2 * Double(m) * Double(n) * Double(k) / seconds * 1e-9
        gemmRates[key] = rate
        return rate
    }

    /// The lines printed above the table.
    var summary: String {
        let f = { (x: Double) in String(format: "%.1f", x) }
        return """
            stream copy  \(f(copyOneThread)) GB/s (1 thread)  \(f(copyAllThreads)) GB/s (\(Threads.count) threads)
            stream triad \(f(triadOneThread)) GB/s (1 thread)  \(f(triadAllThreads)) GB/s (\(Threads.count) threads)
            fp32 FMA peak \(f(fmaPeakGFLOPs)) GFLOP/s, vector exp \(f(expGelemsPerSecond)) Gelem/s (\(Threads.count) threads)
            fused multiply-add in this build: \(fusedMultiplyAddEnabled ? "yes" : "no (build with -Xswiftc -target-cpu -Xswiftc native)")
            """
    }

    /// The shortest of `runs` timed calls of `body`, after one untimed call unless `warmUp` is
    /// false: a limit is what the machine can do, so a run slowed by a neighbour on the shared host
    /// must not lower it.
    static func fastest(of runs: Int, warmUp: Bool = true, _ body: () -> Void) -> Double {
        if warmUp { body() }
        return (0..<runs).map { _ in seconds(body) }.min()!
    }

    static func seconds(_ body: () -> Void) -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
    }

    /// Splits `0..<count` into `threads` contiguous parts and runs them concurrently.
    static func parallel(_ threads: Int, count: Int, _ body: (Range<Int>) -> Void) {
        let part = (count + threads - 1) / threads
        withoutActuallyEscaping(body) { body in
            let shared = SendableBox(body)
            DispatchQueue.concurrentPerform(iterations: threads) { t in
                shared.value(t * part ..< min(count, (t + 1) * part))
            }
        }
    }

    private static func fmaPeak(threads: Int, runs: Int) -> Double {
        let iterations = 4_000_000
        let perThread = SendableBox(UnsafeMutableBufferPointer<Float>.allocate(capacity: threads))
        defer { perThread.value.deallocate() }
        let time = fastest(of: runs) {
            DispatchQueue.concurrentPerform(iterations: threads) { t in
                let m = SIMD8<Float>(repeating: 0.999_999), a = SIMD8<Float>(repeating: 1e-7)
                var (x0, x1, x2, x3, x4) = (SIMD8<Float>(repeating: 1), SIMD8<Float>(repeating: 2), SIMD8<Float>(repeating: 3), SIMD8<Float>(repeating: 4), SIMD8<Float>(repeating: 5))
                var (x5, x6, x7, x8, x9) = (SIMD8<Float>(repeating: 6), SIMD8<Float>(repeating: 7), SIMD8<Float>(repeating: 8), SIMD8<Float>(repeating: 9), SIMD8<Float>(repeating: 10))
                for _ in 0..<iterations {
                    x0 = Float.multiplyAdd(x0, m, a); x1 = Float.multiplyAdd(x1, m, a); x2 = Float.multiplyAdd(x2, m, a)
                    x3 = Float.multiplyAdd(x3, m, a); x4 = Float.multiplyAdd(x4, m, a); x5 = Float.multiplyAdd(x5, m, a)
                    x6 = Float.multiplyAdd(x6, m, a); x7 = Float.multiplyAdd(x7, m, a); x8 = Float.multiplyAdd(x8, m, a)
                    x9 = Float.multiplyAdd(x9, m, a)
                }
                let total = x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9
                perThread.value[t] = total.sum()
            }
        }
        // 10 independent chains × 8 lanes × 2 flops per FMA.
        return Double(threads * iterations * 10 * 16) / time * 1e-9
    }

    /// The fastest of `runs` copies of `source` into `destination`, in GB/s.
    private static func copyRate(from source: UnsafeMutableBufferPointer<Float>, to destination: UnsafeMutableBufferPointer<Float>,
                                 threads: Int, runs: Int, warmUp: Bool = true) -> Double {
        let bytes = 2 * Double(source.count * MemoryLayout<Float>.stride)
        return bytes / fastest(of: runs, warmUp: warmUp) { parallel(threads, count: source.count) { r in
            let (src, dst) = (UnsafePointer(source.baseAddress! + r.lowerBound), destination.baseAddress! + r.lowerBound)
            var j = 0
            while j + 8 <= r.count {
                UnsafeMutableRawPointer(dst + j).storeBytes(of: UnsafeRawPointer(src + j).loadUnaligned(as: SIMD8<Float>.self), as: SIMD8<Float>.self)
                j += 8
            }
        } } * 1e-9
    }

    /// The fastest of `runs` passes of `repeats` sweeps of a 4096-Float cache-resident `exp` loop
    /// per thread, in Gelem/s.
    private static func expRate(threads: Int, repeats: Int, runs: Int, warmUp: Bool = true) -> Double {
        let count = 4096
        let sink = SendableBox(UnsafeMutableBufferPointer<Float>.allocate(capacity: threads))
        defer { sink.value.deallocate() }
        let time = fastest(of: runs, warmUp: warmUp) {
            DispatchQueue.concurrentPerform(iterations: threads) { t in
                var x = [Float](repeating: 0, count: count)
                for i in 0..<count { x[i] = Float(i % 200) * -0.25 }
                var total = Float.Vector()
                x.withUnsafeBufferPointer { p in
                    for _ in 0..<repeats {
                        var j = 0
                        while j < count {
                            total += Float.exp(p.baseAddress!.loadVector(at: j))
                            j += Float.vectorWidth
                        }
                    }
                }
                sink.value[t] = Float.sumOfLanes(total)
            }
        }
        return Double(threads * count * repeats) / time * 1e-9
    }
}

/// Moves a closure or buffer the compiler cannot prove `Sendable` into `concurrentPerform`.
struct SendableBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
