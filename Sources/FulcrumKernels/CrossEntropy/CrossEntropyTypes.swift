/// How per-row losses are combined, with PyTorch's names and meanings.
public enum Reduction: Sendable, Equatable {
    /// Per-row losses; the gradient is that of their sum (each row's upstream gradient is
    /// `gradientScale`).
    case none
    /// The sum of the per-row losses.
    case sum
    /// The weighted mean: the sum of per-row losses divided by the sum of the class weights of the
    /// targets of the non-ignored rows (the row count when there are no class weights), exactly as
    /// PyTorch's `cross_entropy(weight=…, reduction="mean")`.
    case mean
}

/// What a NaN or ±∞ logit in a non-ignored row does.
public enum NonFinitePolicy: Sendable, Equatable {
    /// Throw `FulcrumError.nonFiniteValue(argument: "logits", row:column:)` naming the first such
    /// row (lowest index) and its first non-finite column. Rows are processed in parallel blocks,
    /// so when this is thrown from an in-place call each row of the buffer holds either its logits
    /// or its gradient.
    case throwError
    /// Give that row a NaN loss (and so a NaN total for `sum`/`mean`), a NaN gradient row and a NaN
    /// log-sum-exp; other rows are computed normally.
    case propagateNaN
}

/// The scalar outputs of a cross-entropy call.
public struct CrossEntropyResult<T: FulcrumFloat>: Sendable, Equatable {
    /// The reduced loss (for `.none`, the sum of the per-row losses), z-loss included.
    public var loss: T
    /// The z-loss part of `loss`, reduced the same way.
    public var zLoss: T
    /// Rows (not ignored) whose prediction, the argmax of the adjusted logits the softmax sees
    /// (ties to the lower class index), equals the target.
    public var correctCount: Int
    /// Rows that were not ignored.
    public var countedRows: Int
    /// The denominator of `.mean`: the sum over non-ignored rows of the target's class weight.
    public var weightSum: T

    @inlinable
    public init(loss: T, zLoss: T, correctCount: Int, countedRows: Int, weightSum: T) {
        self.loss = loss
        self.zLoss = zLoss
        self.correctCount = correctCount
        self.countedRows = countedRows
        self.weightSum = weightSum
    }
}
