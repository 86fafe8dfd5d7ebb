/// The one error every Fulcrum entry point throws.
///
/// Each case names the argument at fault and the value, index or shape that broke the rule, so
/// that the message alone tells a caller what to fix. Fulcrum never traps on input a caller can
/// pass: shapes, ranges, parameters and non-finite values are checked and reported here.
public enum FulcrumError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A shape does not match what another argument implies.
    ///
    /// - `argument`: the argument whose shape is wrong;
    /// - `expected`/`actual`: the shapes, written like `4096x32768` or `4096`.
    case shapeMismatch(argument: String, expected: String, actual: String)

    /// An index (a target, a class, an expert, a feature column) is outside its valid range.
    ///
    /// `position` is where in the argument the bad index sits (a row), `value` the index itself,
    /// `validRange` the range it must lie in, written like `0..<1000`.
    case indexOutOfRange(argument: String, position: Int, value: Int, validRange: String)

    /// A scalar parameter is outside its domain; `requirement` says what it must satisfy,
    /// for example `in [0, 1)` or `> 0`.
    case invalidParameter(argument: String, value: String, requirement: String)

    /// A NaN or an infinity where only finite values are allowed, at `row`, `column`
    /// (column 0 for vectors).
    case nonFiniteValue(argument: String, row: Int, column: Int)

    /// A reduction (a mean, a normalisation) over nothing: an empty batch, every row ignored, or
    /// weights that sum to zero.
    case emptyReduction(argument: String, reason: String)

    /// A buffer is too small or strided in a way the call cannot use.
    case invalidBuffer(argument: String, reason: String)

    /// A LAPACK routine returned `info ≠ 0`: negative means argument `-info` was illegal,
    /// positive is the routine's own failure (a non positive-definite matrix, no convergence).
    case lapackFailure(routine: String, info: Int)

    public var description: String {
        switch self {
        case let .shapeMismatch(argument, expected, actual):
            return "\(argument): expected shape \(expected), got \(actual)"
        case let .indexOutOfRange(argument, position, value, validRange):
            return "\(argument)[\(position)] = \(value) is outside \(validRange)"
        case let .invalidParameter(argument, value, requirement):
            return "\(argument) = \(value) must be \(requirement)"
        case let .nonFiniteValue(argument, row, column):
            return "\(argument) has a non-finite value at row \(row), column \(column)"
        case let .emptyReduction(argument, reason):
            return "\(argument): nothing to reduce (\(reason))"
        case let .invalidBuffer(argument, reason):
            return "\(argument): \(reason)"
        case let .lapackFailure(routine, info):
            return "LAPACK \(routine) failed with info = \(info)"
        }
    }
}

/// Writes a shape like `4096x32768` for error messages and benchmark names.
@inlinable
func shapeDescription(_ rows: Int, _ columns: Int) -> String { "\(rows)x\(columns)" }

/// The reduced loss `value` as T, or `invalidParameter` naming `parameters` when it (or, as the
/// caller reports, its gradient) does not fit in T although every input was finite: the options
/// (a tiny temperature, huge offsets or coefficients) or the inputs' own scale took it past T's
/// range, or to NaN.
package func representableLoss<T: FulcrumFloat>(_ value: Double, as _: T.Type, parameters: String, gradientIsFinite: Bool = true) throws -> T {
    let result = T(value)
    guard result.isFinite, gradientIsFinite else {
        throw FulcrumError.invalidParameter(argument: parameters, value: "a loss of \(value)",
                                            requirement: "a loss that fits in \(T.self) (these options or the inputs' scale overflow it)")
    }
    return result
}

/// The names of the options that are set, comma-separated, or "logits" when none is: what an
/// overflow error (`representableLoss`) names.
package func namedOptions(_ options: [(name: String, isSet: Bool)]) -> String {
    let names = options.filter(\.isSet).map(\.name)
    return names.isEmpty ? "logits" : names.joined(separator: ", ")
}
