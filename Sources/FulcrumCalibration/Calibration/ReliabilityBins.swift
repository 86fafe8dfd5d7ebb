import FulcrumKernels

/// One bin of a reliability diagram.
public struct ReliabilityBin: Sendable, Equatable {
    /// Lower end of the bin's confidence range: b/B for equal-width bins, the smallest
    /// confidence the bin holds for equal-mass bins.
    public var lower: Double
    /// Upper end: (b+1)/B for equal-width bins (exclusive, but 1 belongs to the last bin), the
    /// largest confidence the bin holds for equal-mass bins.
    public var upper: Double
    /// Number (or total weight) of samples in the bin.
    public var count: Double
    /// Mean confidence of the bin's samples (0 for an empty bin).
    public var confidence: Double
    /// Fraction of the bin's samples that are hits: correct predictions (top-label) or members of
    /// the class (class-wise, binary). 0 for an empty bin.
    public var accuracy: Double
}

/// How confidences are grouped into bins.
public enum Binning: Sendable {
    /// B bins of width 1/B: bin b holds b/B ≤ c < (b+1)/B, the last also c = 1 (torchmetrics'
    /// and "On Calibration of Modern Neural Networks"'s ECE).
    case equalWidth
    /// B bins of (nearly) equal sample count over the confidences sorted ascending: the first
    /// n mod B bins hold ⌊n/B⌋ + 1 samples, the others ⌊n/B⌋ (NumPy's `array_split`), so that
    /// tied confidences may straddle two bins. Bins that would be empty (n < B) are dropped.
    case equalMass
}

/// A reliability diagram and the calibration errors read from it.
///
/// With bins b of weight n_b, mean confidence c_b and accuracy a_b over N samples:
/// - ECE = Σ_b (n_b/N)·|a_b − c_b|,
/// - MCE = max over non-empty bins of |a_b − c_b|,
/// - RMSCE = √(Σ_b (n_b/N)·(a_b − c_b)²).
public struct CalibrationReport: Sendable, Equatable {
    /// The bins in ascending confidence order (empty equal-width bins included).
    public var bins: [ReliabilityBin]
    /// Expected calibration error.
    public var expectedCalibrationError: Double
    /// Maximum calibration error.
    public var maximumCalibrationError: Double
    /// Root-mean-square calibration error.
    public var rootMeanSquareCalibrationError: Double

    init(bins: [ReliabilityBin]) {
        self.bins = bins
        let total = bins.reduce(0) { $0 + $1.count }
        var (ece, mce, squares) = (0.0, 0.0, 0.0)
        for bin in bins where bin.count > 0 {
            let gap = abs(bin.accuracy - bin.confidence)
            ece += bin.count / total * gap
            squares += bin.count / total * gap * gap
            mce = max(mce, gap)
        }
        (expectedCalibrationError, maximumCalibrationError, rootMeanSquareCalibrationError) = (ece, mce, squares.squareRoot())
    }
}

/// Per-bin sums of weight, weighted confidence and weighted hits, in Double.
struct BinSums {
    var count: [Double]
    var confidence: [Double]
    var hits: [Double]

    init(bins: Int) {
        count = [Double](repeating: 0, count: bins)
        confidence = count
        hits = count
    }

    /// The equal-width bin of confidence `c` in [0, 1]: b with b/B ≤ c < (b+1)/B, and B − 1 for 1.
    /// The bin boundaries are the Doubles b/B, so a confidence exactly on a boundary goes up.
    @inline(__always)
    static func equalWidthBin(_ c: Double, bins: Int) -> Int {
        var b = min(Int(c * Double(bins)), bins - 1)
        if b > 0 && c < Double(b) / Double(bins) { b -= 1 }
        if b < bins - 1 && c >= Double(b + 1) / Double(bins) { b += 1 }
        return b
    }

    @inline(__always)
    mutating func add(bin: Int, confidence c: Double, hit: Bool, weight: Double) {
        count[bin] += weight
        confidence[bin] += weight * c
        if hit { hits[bin] += weight }
    }

    /// The report of equal-width bins.
    func equalWidthReport() -> CalibrationReport {
        let bins = count.count
        return CalibrationReport(bins: (0..<bins).map { b in
            ReliabilityBin(lower: Double(b) / Double(bins), upper: Double(b + 1) / Double(bins), count: count[b],
                           confidence: count[b] > 0 ? confidence[b] / count[b] : 0,
                           accuracy: count[b] > 0 ? hits[b] / count[b] : 0)
        })
    }
}

/// Confidences with their hit flag and weight, reduced to a reliability report.
struct ConfidenceSamples {
    var confidences: [Float] = []
    var hits: [Bool] = []
    var weights: [Float]? = nil

    /// Equal-mass report: radix-sort by confidence (stable), split by count.
    func equalMassReport(bins: Int) throws -> CalibrationReport {
        let n = confidences.count
        guard n <= Int(UInt32.max) else {
            throw FulcrumError.invalidBuffer(argument: "probabilities", reason: "equal-mass bins index at most 2^32 - 1 samples, got \(n)")
        }
        let items = LargeBuffer<UInt64>(count: n)
        for i in 0..<n {
            // Payload: the sample index, so that ties keep input order (stable sort).
            items.pointer[i] = UInt64(RadixSort.key(confidences[i])) << 32 | UInt64(i)
        }
        try LargeBuffer<UInt64>(count: n).withBuffer { try RadixSort.sort(keyed: items.buffer, scratch: $0) }
        var result: [ReliabilityBin] = []
        var start = 0
        for b in 0..<bins {
            let size = n / bins + (b < n % bins ? 1 : 0)
            guard size > 0 else { continue }
            var sums = BinSums(bins: 1)
            for k in start..<(start + size) {
                let i = Int(truncatingIfNeeded: items.pointer[k] & 0xFFFF_FFFF)
                sums.add(bin: 0, confidence: Double(confidences[i]), hit: hits[i], weight: Double(weights?[i] ?? 1))
            }
            let lower = Double(RadixSort.value(ofKey: UInt32(truncatingIfNeeded: items.pointer[start] >> 32)))
            let upper = Double(RadixSort.value(ofKey: UInt32(truncatingIfNeeded: items.pointer[start + size - 1] >> 32)))
            let c = sums.count[0]
            result.append(ReliabilityBin(lower: lower, upper: upper, count: c,
                                         confidence: c > 0 ? sums.confidence[0] / c : 0, accuracy: c > 0 ? sums.hits[0] / c : 0))
            start += size
        }
        return CalibrationReport(bins: result)
    }

    /// Equal-width report.
    func equalWidthReport(bins: Int) -> CalibrationReport {
        var sums = BinSums(bins: bins)
        for i in confidences.indices {
            let c = Double(confidences[i])
            sums.add(bin: BinSums.equalWidthBin(c, bins: bins), confidence: c, hit: hits[i], weight: Double(weights?[i] ?? 1))
        }
        return sums.equalWidthReport()
    }

    func report(bins: Int, binning: Binning) throws -> CalibrationReport {
        binning == .equalWidth ? equalWidthReport(bins: bins) : try equalMassReport(bins: bins)
    }
}
