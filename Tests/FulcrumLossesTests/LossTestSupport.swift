import Foundation
import Testing
import FulcrumKernels

/// A small deterministic generator for test data (SplitMix64).
struct TestRandom {
    private var generator: SplitMix64
    init(seed: UInt64) { generator = SplitMix64(seed: seed) }

    /// Uniform in [lower, upper).
    mutating func uniform(_ lower: Double, _ upper: Double) -> Double {
        lower + (upper - lower) * Double(generator.next() >> 11) * 0x1p-53
    }

    /// Uniform in 0..<bound.
    mutating func below(_ bound: Int) -> Int { Int(generator.next() % UInt64(bound)) }

    /// `count` values uniform in [lower, upper).
    mutating func values(_ count: Int, _ lower: Double, _ upper: Double) -> [Double] {
        (0..<count).map { _ in uniform(lower, upper) }
    }
}

extension Array {
    /// Calls `body` with a read-only `rows × columns` view of the array.
    func withView<R>(rows: Int, columns: Int, _ body: (MatrixView<Element>) throws -> R) rethrows -> R {
        try withUnsafeBufferPointer {
            try body(MatrixView(unchecked: $0.baseAddress, rows: rows, columns: columns, rowStride: columns))
        }
    }

    /// Calls `body` with a mutable `rows × columns` view of the array.
    mutating func withMutableView<R>(rows: Int, columns: Int, _ body: (MutableMatrixView<Element>) throws -> R) rethrows -> R {
        try withUnsafeMutableBufferPointer {
            try body(MutableMatrixView(unchecked: $0.baseAddress, rows: rows, columns: columns, rowStride: columns))
        }
    }
}

/// Central differences of a scalar function of a flat parameter vector, step h·max(1, |x|).
func finiteDifferences(_ x: [Double], h: Double = 1e-5, _ f: ([Double]) throws -> Double) rethrows -> [Double] {
    var probe = x
    var g = [Double](repeating: 0, count: x.count)
    for i in x.indices {
        let step = h * max(1, abs(x[i]))
        probe[i] = x[i] + step
        let up = try f(probe)
        probe[i] = x[i] - step
        let down = try f(probe)
        probe[i] = x[i]
        g[i] = (up - down) / (2 * step)
    }
    return g
}

/// max_i |a_i − b_i| / max(max_i |b_i|, floor): the error relative to the largest reference entry.
func maxRelativeError(_ a: [Double], _ b: [Double], floor: Double = 1e-300) -> Double {
    precondition(a.count == b.count)
    let scale = max(b.reduce(0) { max($0, abs($1)) }, floor)
    return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) } / scale
}

/// |a − b| / max(|b|, floor).
func relativeError(_ a: Double, _ b: Double, floor: Double = 1e-300) -> Double {
    abs(a - b) / max(abs(b), floor)
}

/// The argument named by a thrown `FulcrumError`, or nil.
func thrownArgument(_ body: () throws -> Void) -> String? {
    do {
        try body()
        return nil
    } catch let error as FulcrumError {
        switch error {
        case .shapeMismatch(let argument, _, _), .indexOutOfRange(let argument, _, _, _),
             .invalidParameter(let argument, _, _), .nonFiniteValue(let argument, _, _),
             .emptyReduction(let argument, _), .invalidBuffer(let argument, _):
            return argument
        case .lapackFailure(let routine, _):
            return routine
        }
    } catch {
        return "\(error)"
    }
}

/// Runs `body` with 1 and then 2 threads and restores the count. Call only from a serialized suite.
func withOneAndTwoThreads<R>(_ body: () throws -> R) rethrows -> (one: R, two: R) {
    let saved = Threads.count
    defer { try? Threads.setCount(saved) }
    try? Threads.setCount(1)
    let one = try body()
    try? Threads.setCount(2)
    let two = try body()
    return (one, two)
}

/// Softmax log-sum-exp of a Double row.
func logSumExp(_ z: [Double]) -> Double {
    let m = z.max()!
    return m + log(z.reduce(0) { $0 + exp($1 - m) })
}
