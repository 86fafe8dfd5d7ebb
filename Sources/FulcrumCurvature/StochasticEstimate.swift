import FulcrumKernels

/// A Monte-Carlo estimate with its error bar: the mean of `samples` independent draws and the
/// standard error of that mean, s/√m with s the sample standard deviation (divisor m − 1).
///
/// With m ≳ 30 probes the true value lies within ±2 standard errors about 95% of the time (the
/// tests check ±3 over many seeds). The standard error is itself estimated: with very few probes
/// it can be far off.
public struct StochasticEstimate: Sendable, Equatable {
    /// The sample mean.
    public var estimate: Double
    /// The standard error of the mean (0 when every draw was equal).
    public var standardError: Double
    /// The number of draws m.
    public var samples: Int

    /// The mean and standard error of `draws`.
    ///
    /// - Throws: `FulcrumError.invalidParameter` naming `draws` when there are fewer than two (the
    ///   sample standard deviation needs two).
    @inlinable
    public init(draws: [Double]) throws {
        guard draws.count >= 2 else {
            throw FulcrumError.invalidParameter(argument: "draws", value: "\(draws.count) draw\(draws.count == 1 ? "" : "s")", requirement: "at least 2")
        }
        let m = Double(draws.count)
        let mean = draws.reduce(0, +) / m
        let variance = draws.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (m - 1)
        self.estimate = mean
        self.standardError = (variance / m).squareRoot()
        self.samples = draws.count
    }
}
