import FulcrumKernels

/// The output of every sampler: the resampled rows and labels.
///
/// Over-samplers return the original rows first, in their original order, then the synthetic
/// rows (class by class in ascending label order). Under-samplers and cleaners return the kept
/// original rows in their original order, and their indices in `sampleIndices`.
public struct Resampled: Sendable, Equatable {
    /// Row-major `rows × columns` features (read-only, so that they stay consistent with
    /// `labels`, which `withFeatures` relies on).
    public private(set) var features: [Float]
    /// One label per row.
    public private(set) var labels: [Int]
    /// Features per row.
    public let columns: Int
    /// For samplers that keep original rows only: the kept rows' indices in the input, ascending.
    public var sampleIndices: [Int]?

    /// Number of rows.
    public var rows: Int { labels.count }

    /// Rows per class label.
    public var classCounts: [Int: Int] { labels.reduce(into: [:]) { $0[$1, default: 0] += 1 } }

    /// Calls `body` with a view of the features.
    public func withFeatures<R>(_ body: (MatrixView<Float>) throws -> R) rethrows -> R {
        try features.withUnsafeBufferPointer {
            try body(MatrixView(unchecked: $0.baseAddress, rows: rows, columns: columns, rowStride: columns))
        }
    }
}

/// A resampling method with imbalanced-learn's `fit_resample`.
///
/// Every random choice comes from the caller's `generator`, drawn on the calling thread in a
/// fixed order, or (for the bulk draws of the SMOTE family) from `SplitMix64` streams, one per
/// fixed block of samples, seeded by such a draw; so a seed fixes the result bitwise for any
/// `Threads.count`.
public protocol Sampler: Sendable {
    /// Resamples `features` (`N × D`, finite) with one label per row.
    func fitResample(features: MatrixView<Float>, labels: [Int], generator: inout some RandomNumberGenerator) throws -> Resampled
}
