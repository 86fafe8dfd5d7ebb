extension SoftmaxCrossEntropy {
    /// The loss and a new gradient matrix, for callers holding `Matrix` values and target arrays.
    ///
    /// Same computation as `lossAndGradient(logits:targets:gradient:…)`; allocates the N×C gradient.
    @specialized(where T == Float)
    @specialized(where T == Double)
    public func lossAndGradient(logits: Matrix<T>, targets: [Int32]) throws -> (result: CrossEntropyResult<T>, gradient: Matrix<T>) {
        var gradient = try Matrix<T>(rows: logits.rows, columns: logits.columns, repeating: 0)
        let result = try logits.withView { x in
            try targets.withUnsafeBufferPointer { t in
                try gradient.withMutableView { try lossAndGradient(logits: x, targets: t, gradient: $0) }
            }
        }
        return (result, gradient)
    }
}
