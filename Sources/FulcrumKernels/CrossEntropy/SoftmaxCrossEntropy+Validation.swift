/// The target statistics that the reduction needs.
struct TargetTotals {
    /// Σ w_y over rows that are not ignored (Double).
    var weightSum = 0.0
    /// Rows that are not ignored.
    var counted = 0
}

extension SoftmaxCrossEntropy {
    /// Checks every option against `classes` and returns nothing or throws naming the option.
    func validateOptions(classes: Int) throws {
        func requireFinite(_ value: T, _ name: String, _ requirement: String, _ ok: Bool) throws {
            guard value.isFinite, ok else {
                throw FulcrumError.invalidParameter(argument: name, value: "\(value)", requirement: requirement)
            }
        }
        try requireFinite(labelSmoothing, "labelSmoothing", "in [0, 1)", labelSmoothing >= 0 && labelSmoothing < 1)
        try requireFinite(zLossCoefficient, "zLossCoefficient", "finite and >= 0", zLossCoefficient >= 0)
        try requireFinite(temperature, "temperature", "finite and > 0", temperature > 0)
        try requireFinite(focalGamma, "focalGamma", "finite and >= 0", focalGamma >= 0)
        if let cap = logitSoftcap { try requireFinite(cap, "logitSoftcap", "finite and > 0", cap > 0) }
        for (name, values, nonNegative) in [("classWeights", classWeights, true), ("classOffsets", classOffsets, false),
                                            ("targetMargins", targetMargins, false)] {
            guard let values else { continue }
            try checkCount(values.count, classes, argument: name)
            if let bad = values.firstIndex(where: { !$0.isFinite || (nonNegative && $0 < 0) }) {
                throw FulcrumError.invalidParameter(argument: "\(name)[\(bad)]", value: "\(values[bad])",
                                                    requirement: nonNegative ? "finite and >= 0" : "finite")
            }
        }
    }

    /// Validates the options, the targets (range, ignore index, the exclusion mask at the target)
    /// and sums the class weights of the counted rows.
    func validateTargets(_ targets: UnsafeBufferPointer<Int32>, classes: Int, excludedClasses: MatrixView<UInt8>?) throws -> TargetTotals {
        try validateOptions(classes: classes)
        if let excludedClasses {
            try checkShape(excludedClasses, rows: targets.count, columns: classes, argument: "excludedClasses")
        }
        var totals = TargetTotals()
        for (n, t) in targets.enumerated() where t != ignoreIndex {
            let y = Int(t)
            guard y >= 0, y < classes else {
                throw FulcrumError.indexOutOfRange(argument: "targets", position: n, value: y, validRange: "0..<\(classes)")
            }
            if let excludedClasses, excludedClasses[n, y] != 0 {
                throw FulcrumError.invalidParameter(argument: "excludedClasses", value: "row \(n) excludes its target \(y)",
                                                    requirement: "keeping every row's target class")
            }
            totals.counted += 1
            totals.weightSum += Double(classWeights?[y] ?? 1)
        }
        return totals
    }

    /// 1/Σw_y for `.mean` (throwing when there is nothing to average), 1 otherwise.
    func reductionScale(_ totals: TargetTotals) throws -> Double {
        guard reduction == .mean else { return 1 }
        guard totals.counted > 0 else {
            throw FulcrumError.emptyReduction(argument: "targets", reason: "a mean over no rows (empty batch or every row ignored)")
        }
        guard totals.weightSum > 0 else {
            throw FulcrumError.emptyReduction(argument: "classWeights", reason: "the targets' class weights sum to 0")
        }
        return 1 / totals.weightSum
    }
}
