import Testing
import FulcrumKernels
@testable import FulcrumCalibration

/// The README's worked example: every number printed there is checked here.
@Suite("README example")
struct ReadmeExampleTests {
    let p: [Float] = [0.95, 0.9, 0.85, 0.8, 0.7, 0.65, 0.6, 0.45, 0.4, 0.3, 0.2, 0.1]
    let y: [Int32] = [1, 1, 0, 1, 1, 0, 1, 0, 1, 0, 0, 0]

    @Test func numbersInTheReadme() throws {
        try with(p, y) { p, y, _ throws in
            // Negatives below each positive: 6, 6, 5, 5, 4, 3 → 29/36.
            let auroc = try RankingMetrics.rocAUC(scores: p, labels: y)
            #expect(close(auroc, 29.0 / 36))
            // Precision at each positive: 1, 1, 3/4, 4/5, 5/7, 6/9, each recall step 1/6.
            let ap = try RankingMetrics.averagePrecision(scores: p, labels: y)
            #expect(close(ap, (1 + 1 + 0.75 + 0.8 + 5.0 / 7 + 6.0 / 9) / 6))
            let report = try CalibrationMetrics.calibrationError(probabilities: p, labels: y, bins: 5)
            #expect(report.bins.map(\.count) == [1, 2, 2, 3, 4])
            let expected: [(Double, Double)] = [(0.1, 0), (0.25, 0), (0.425, 0.5), (0.65, 2.0 / 3), (0.875, 0.75)]
            for (bin, (confidence, accuracy)) in zip(report.bins, expected) {
                #expect(close(bin.confidence, confidence, 1e-7) && close(bin.accuracy, accuracy))
            }
            // ECE = (0.1 + 2·0.25 + 2·0.075 + 3·(1/60) + 4·0.125)/12 = 1.3/12; MCE = 0.25.
            #expect(close(report.expectedCalibrationError, 1.3 / 12, 1e-7))
            #expect(close(report.maximumCalibrationError, 0.25, 1e-7))
            // Σ(p − y)² = 2.15 → 2.15/12.
            #expect(close(try CalibrationMetrics.brierScore(probabilities: p, labels: y), 2.15 / 12, 1e-7))
            // Accuracy 9/12 equals the mean confidence 9/12: Balance 0.
            #expect(abs(try CalibrationMetrics.balanceScore(probabilities: p, labels: y)) < 1e-7)
        }
    }
}
