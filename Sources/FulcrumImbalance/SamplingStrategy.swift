import FulcrumKernels

/// Which classes a sampler resamples and to what size, in imbalanced-learn's vocabulary
/// (`sampling_strategy`).
///
/// With `n_c` the size of class `c`, `n_max` the largest and `n_min` the smallest class (ties to
/// the lower label):
///
/// | strategy | over-sampling: rows generated | under-sampling: rows kept | cleaning: classes cleaned |
/// |---|---|---|---|
/// | `.minority` | minority: `n_max − n_min` | — | — |
/// | `.majority` | — | majority: `n_min` | majority |
/// | `.notMinority` | every class but the minority: `n_max − n_c` | every class but the minority: `n_min` | every class but the minority |
/// | `.notMajority` | every class but the majority: `n_max − n_c` | every class but the majority: `n_min` | every class but the majority |
/// | `.all` | every class: `n_max − n_c` | every class: `n_min` | every class |
/// | `.auto` | `.notMajority` | `.notMinority` | `.notMinority` |
/// | `.ratio(r)`, binary only, `r ∈ (0, 1]` | minority: `⌊r·n_max⌋ − n_min` | majority: `⌊n_min / r⌋` | — |
/// | `.counts([c: t])` | class `c`: `t − n_c` (needs `t ≥ n_c`) | class `c`: `t` (needs `t ≤ n_c`) | — |
/// | `.classes([c…])` | — | — | the listed classes |
public enum SamplingStrategy: Sendable, Equatable, Hashable {
    case auto, minority, majority, notMinority, notMajority, all
    /// Desired ratio `minority / majority` after resampling (two classes only).
    case ratio(Double)
    /// Desired size of each listed class after resampling.
    case counts([Int: Int])
    /// The classes a cleaning sampler may remove samples from.
    case classes([Int])

    /// How a sampler uses the strategy.
    public enum Purpose: Sendable {
        case overSampling, underSampling, cleaning
    }

    /// The resolved targets, in ascending class order: for over-sampling the number of rows to
    /// generate, for under-sampling the number of rows to keep, for cleaning the classes to clean
    /// (with their current size).
    ///
    /// - Throws: `FulcrumError.invalidParameter` naming `classCounts` for a negative count, a label
    ///   listed twice or counts whose total exceeds `Int.max`; naming `samplingStrategy` for a
    ///   strategy the purpose does not accept, a ratio outside (0, 1] or with more than two classes,
    ///   a count that asks for fewer samples than exist when over-sampling (or more when
    ///   under-sampling), over-sampling beyond `maximumRows` rows in all;
    ///   `FulcrumError.emptyReduction` naming `samplingStrategy` for a class with no sample.
    public func targets(classCounts: [(label: Int, count: Int)], purpose: Purpose) throws -> [(label: Int, count: Int)] {
        let existing = try Self.total(of: classCounts)
        let result = try unboundedTargets(classCounts: classCounts, purpose: purpose)
        if purpose == .overSampling {
            // Rows are indexed with 32-bit integers (and a request beyond that is a typo, not a data set).
            let total = result.reduce(existing) { $0 &+ $1.count }
            guard result.allSatisfy({ $0.count <= Self.maximumRows }), total >= 0, total <= Self.maximumRows else {
                throw FulcrumError.invalidParameter(argument: "samplingStrategy", value: "\(self)",
                                                    requirement: "at most \(Self.maximumRows) rows after over-sampling")
            }
        }
        return result
    }

    /// The most rows a resampled data set may have: 2³¹ − 1.
    public static let maximumRows = Int(Int32.max)

    /// The number of samples in `classCounts`, after checking that it is one non-negative count
    /// per class and that the total fits in Int (so that no later difference or sum overflows).
    private static func total(of classCounts: [(label: Int, count: Int)]) throws -> Int {
        func reject(_ value: String, _ requirement: String) -> FulcrumError {
            FulcrumError.invalidParameter(argument: "classCounts", value: value, requirement: requirement)
        }
        var total = 0, labels = Set<Int>()
        for (label, count) in classCounts {
            guard count >= 0 else { throw reject("\(count) for class \(label)", ">= 0") }
            guard labels.insert(label).inserted else { throw reject("class \(label) listed twice", "one count per class") }
            let (sum, overflow) = total.addingReportingOverflow(count)
            guard !overflow else { throw reject("counts summing beyond Int.max", "a total that fits in Int") }
            total = sum
        }
        return total
    }

    private func unboundedTargets(classCounts: [(label: Int, count: Int)], purpose: Purpose) throws -> [(label: Int, count: Int)] {
        let counts = classCounts.sorted { $0.label < $1.label }
        guard let first = counts.first else { return [] }
        let largest = counts.reduce(first) { $1.count > $0.count ? $1 : $0 }
        let smallest = counts.reduce(first) { $1.count < $0.count ? $1 : $0 }
        func reject(_ requirement: String) -> FulcrumError {
            FulcrumError.invalidParameter(argument: "samplingStrategy", value: "\(self)", requirement: requirement)
        }
        func select(_ keep: (Int) -> Bool) -> [(label: Int, count: Int)] {
            counts.filter { keep($0.label) }.map { entry in
                switch purpose {
                case .overSampling: (entry.label, largest.count - entry.count)
                case .underSampling: (entry.label, smallest.count)
                case .cleaning: entry
                }
            }
        }
        switch self {
        case .auto:
            return purpose == .overSampling ? select { $0 != largest.label } : select { $0 != smallest.label }
        case .minority:
            guard purpose == .overSampling else { throw reject("one of majority, notMinority, notMajority, all, auto when under-sampling or cleaning") }
            return select { $0 == smallest.label }
        case .majority:
            guard purpose != .overSampling else { throw reject("one of minority, notMinority, notMajority, all, auto when over-sampling") }
            return select { $0 == largest.label }
        case .notMinority: return select { $0 != smallest.label }
        case .notMajority: return select { $0 != largest.label }
        case .all: return select { _ in true }
        case .ratio(let r):
            guard purpose != .cleaning else { throw reject("a class list or a named strategy for a cleaning sampler") }
            guard counts.count == 2 else { throw reject("a ratio only with exactly 2 classes (got \(counts.count))") }
            guard r > 0, r <= 1 else { throw reject("in (0, 1]") }
            if purpose == .overSampling {
                // ⌊r·n_max⌋ ≤ n_max, but its Double can round to 2⁶³ when n_max is near Int.max.
                let target = Int(exactly: (r * Double(largest.count)).rounded(.down)) ?? largest.count
                guard target >= smallest.count else {
                    throw reject("large enough not to remove minority samples when over-sampling (needs r >= \(Double(smallest.count) / Double(largest.count)))")
                }
                return counts.filter { $0.label != largest.label }.map { ($0.label, target - $0.count) }
            } else {
                // Converted only when it fits: a tiny r takes n_min / r beyond Int.
                guard let target = Int(exactly: (Double(smallest.count) / r).rounded(.down)), target <= largest.count else {
                    throw reject("large enough not to add majority samples when under-sampling (needs r >= \(Double(smallest.count) / Double(largest.count)))")
                }
                return counts.filter { $0.label != smallest.label }.map { ($0.label, target) }
            }
        case .counts(let wanted):
            guard purpose != .cleaning else { throw reject("a class list or a named strategy for a cleaning sampler") }
            return try wanted.keys.sorted().map { label in
                guard let current = counts.first(where: { $0.label == label })?.count else {
                    throw FulcrumError.emptyReduction(argument: "samplingStrategy", reason: "class \(label) has no sample in labels")
                }
                let target = wanted[label]!
                switch purpose {
                case .overSampling:
                    guard target >= current else {
                        throw reject("at least the current size of each class when over-sampling (class \(label) has \(current), \(target) asked)")
                    }
                    return (label, target - current)
                default:
                    guard target >= 0, target <= current else {
                        throw reject("at most the current size of each class when under-sampling (class \(label) has \(current), \(target) asked)")
                    }
                    return (label, target)
                }
            }
        case .classes(let list):
            guard purpose == .cleaning else { throw reject("a named strategy, a ratio or counts for an over- or under-sampler") }
            return try Set(list).sorted().map { label in
                guard let entry = counts.first(where: { $0.label == label }) else {
                    throw FulcrumError.emptyReduction(argument: "samplingStrategy", reason: "class \(label) has no sample in labels")
                }
                return entry
            }
        }
    }
}
