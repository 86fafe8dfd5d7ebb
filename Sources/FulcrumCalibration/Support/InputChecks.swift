import FulcrumKernels

// Validation shared by every metric: lengths, labels, weights, scores and probability rows.
// Parallel checks record the first bad position per block and report the smallest, so the
// error is the same whatever the thread count.

/// Throws `shapeMismatch` naming `argument` unless `count == expected`.
func checkLength(_ count: Int, _ expected: Int, argument: String) throws {
    guard count == expected else {
        throw FulcrumError.shapeMismatch(argument: argument, expected: "\(expected)", actual: "\(count)")
    }
}

/// Elements per block of the parallel passes: a function of the count only.
func passBlockSize(_ count: Int) -> Int { max(1 << 16, (count + 63) / 64) }

/// Checks that every label lies in `0..<classCount`.
func checkLabels(_ labels: UnsafeBufferPointer<Int32>, classCount: Int, argument: String = "labels") throws {
    for (i, y) in labels.enumerated() where y < 0 || Int(y) >= classCount {
        throw FulcrumError.indexOutOfRange(argument: argument, position: i, value: Int(y), validRange: "0..<\(classCount)")
    }
}

/// Checks sample weights: the right length, finite and ≥ 0.
func checkWeights(_ weights: UnsafeBufferPointer<Float>?, count: Int, argument: String = "sampleWeights") throws {
    guard let weights else { return }
    try checkLength(weights.count, count, argument: argument)
    for (i, w) in weights.enumerated() {
        guard w.isFinite else { throw FulcrumError.nonFiniteValue(argument: argument, row: i, column: 0) }
        guard w >= 0 else {
            throw FulcrumError.invalidParameter(argument: "\(argument)[\(i)]", value: "\(w)", requirement: ">= 0")
        }
    }
}

/// Checks that no score is NaN (infinities are valid extreme scores).
func checkNoNaN(_ scores: UnsafeBufferPointer<Float>, argument: String = "scores") throws {
    for (i, s) in scores.enumerated() where s.isNaN {
        throw FulcrumError.nonFiniteValue(argument: argument, row: i, column: 0)
    }
}

/// The tolerance on |Σₖ pᵢₖ − 1| that probability rows must meet: 10⁻³·max(1, classes/100)
/// absolute, loose enough for Float softmax output of any width (whose row sums carry a few ulp
/// per class), tight enough to catch logits or unnormalised scores.
public func probabilityRowTolerance(classes: Int) -> Double { 1e-3 * max(1, Double(classes) / 100) }

/// Checks that a matrix holds probabilities: every entry finite and in [0, 1], every row summing
/// to 1 within `probabilityRowTolerance(classes:)`. Rows are summed in Double. Errors name row
/// `rowOffset + i` (for checks of a sub-view).
func checkProbabilityRows(_ p: MatrixView<Float>, argument: String = "probabilities", rowOffset: Int = 0) throws {
    let tolerance = probabilityRowTolerance(classes: p.columns)
    for i in 0..<p.rows {
        let row = p.row(i)
        let r = rowOffset + i
        var sum = 0.0
        for j in 0..<p.columns {
            let v = row[j]
            guard v.isFinite else { throw FulcrumError.nonFiniteValue(argument: argument, row: r, column: j) }
            guard v >= 0, v <= 1 else {
                throw FulcrumError.invalidParameter(argument: "\(argument)[\(r), \(j)]", value: "\(v)", requirement: "in [0, 1]")
            }
            sum += Double(v)
        }
        guard abs(sum - 1) <= tolerance else {
            throw FulcrumError.invalidParameter(argument: "\(argument) row \(r)", value: "sum \(sum)", requirement: "sum to 1 within \(tolerance)")
        }
    }
}

/// Checks that binary probabilities are finite and in [0, 1].
func checkUnitInterval(_ p: UnsafeBufferPointer<Float>, argument: String = "probabilities") throws {
    for (i, v) in p.enumerated() {
        guard v.isFinite else { throw FulcrumError.nonFiniteValue(argument: argument, row: i, column: 0) }
        guard v >= 0, v <= 1 else {
            throw FulcrumError.invalidParameter(argument: "\(argument)[\(i)]", value: "\(v)", requirement: "in [0, 1]")
        }
    }
}
