import Testing
@testable import FulcrumKernels

@Suite("Matrix views and matrices: layouts a buffer cannot hold throw")
struct MatrixLayoutTests {
    @Test("Shapes whose element count overflows Int throw instead of trapping")
    func overflowingShapes() throws {
        var storage = [Float](repeating: 0, count: 6)
        try storage.withUnsafeMutableBufferPointer { buffer in
            let view = try MatrixView(UnsafeBufferPointer(buffer), rows: 2, columns: 2, rowStride: 3)  // needs 5 of 6
            #expect(view.rows == 2 && view.rowStride == 3)
            #expect(throws: FulcrumError.invalidBuffer(
                argument: "buffer", reason: "holds 6 elements, a \(Int.max)x2 matrix with row stride 2 needs more than Int.max")) {
                try MatrixView(UnsafeBufferPointer(buffer), rows: .max, columns: 2)
            }
            #expect(throws: FulcrumError.self) { try MutableMatrixView(buffer, rows: 3, columns: 2, rowStride: .max) }
            #expect(throws: FulcrumError.invalidBuffer(argument: "buffer", reason: "holds 6 elements, a 3x2 matrix with row stride 3 needs 8")) {
                try MatrixView(UnsafeBufferPointer(buffer), rows: 3, columns: 2, rowStride: 3)
            }
        }
        #expect(throws: FulcrumError.invalidParameter(argument: "rows, columns", value: "\(Int.max), 2", requirement: "rows × columns <= Int.max")) {
            try Matrix<Float>(rows: .max, columns: 2, repeating: 0)
        }
        #expect(throws: FulcrumError.invalidParameter(argument: "rows, columns", value: "2, \(Int.max)", requirement: "rows × columns <= Int.max")) {
            try Matrix<Float>(rows: 2, columns: .max, elements: [])
        }
    }

    @Test("A matrix's storage cannot be resized from outside: its views are built unchecked")
    func storageIsReadOnly() throws {
        // Overload resolution sees the key path as writable exactly when the setter is visible.
        func isWritable<Value>(_: KeyPath<Matrix<Float>, Value>) -> Bool { false }
        func isWritable<Value>(_: WritableKeyPath<Matrix<Float>, Value>) -> Bool { true }
        #expect(!isWritable(\Matrix<Float>.storage))
        var m = try Matrix<Float>(rows: 2, columns: 2, repeating: 0)
        m[1, 0] = 3
        #expect(m.storage == [0, 0, 3, 0])
    }
}
