import FulcrumKernels

/// A sampler that draws no random number: every neighbour-based cleaning method.
public protocol CleaningSampler: Sampler {
    /// Resamples `features` (`N × D`, finite) with one label per row; the kept rows keep their order.
    func fitResample(features: MatrixView<Float>, labels: [Int]) throws -> Resampled
}

extension CleaningSampler {
    /// The same as `fitResample(features:labels:)`: the generator is not used.
    public func fitResample(features: MatrixView<Float>, labels: [Int], generator: inout some RandomNumberGenerator) throws -> Resampled {
        try fitResample(features: features, labels: labels)
    }
}

extension Dataset {
    /// Throws unless `k` neighbours (self excluded) exist among all rows.
    func requireNeighborsOfAll(_ k: Int, argument: String) throws {
        guard k >= 1, k < rows else {
            throw FulcrumError.invalidParameter(argument: argument, value: "\(k)", requirement: "in 1..<\(rows) (the number of samples)")
        }
    }
}

/// The most frequent label among `labels`, ties to the smaller label (scipy's `mode`).
func modeLabel(_ labels: some Sequence<Int>) -> Int {
    var counts: [Int: Int] = [:]
    for l in labels { counts[l, default: 0] += 1 }
    return counts.max { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }!.key
}
