import Testing
import FulcrumKernels
@testable import FulcrumImbalance

/// The README's embedded example: the table it prints must stay true.
@Suite("README example")
struct ReadmeExampleTests {
    let data = LabelledData(features: [
        0.0, 0.0, 0.5, 0.2, 1.0, 0.1, 0.2, 0.9, 0.8, 0.8, 1.2, 1.1,
        0.3, 1.5, 1.5, 0.4, 1.1, 1.6, 0.6, 1.2, 1.9, 1.0, 1.4, 1.9,
        2.0, 2.0, 2.4, 2.2, 1.3, 1.2, 2.2, 2.6,
    ], labels: Array(repeating: 0, count: 12) + Array(repeating: 1, count: 4), columns: 2)

    @Test("class counts and kept rows of the README table")
    func table() throws {
        #expect(try data.resample(SMOTE(kNeighbors: 3), seed: 42).classCounts == [0: 12, 1: 12])
        #expect(try data.resample(BorderlineSMOTE(kNeighbors: 3, mNeighbors: 5), seed: 42).classCounts == [0: 12, 1: 12])
        let under = try data.resample(RandomUnderSampler(), seed: 42)
        #expect(under.classCounts == [0: 4, 1: 4] && under.sampleIndices!.suffix(4) == [12, 13, 14, 15])
        #expect(try data.resample(TomekLinks()).sampleIndices == (0..<16).filter { $0 != 5 })
        #expect(try data.resample(EditedNearestNeighbours()).sampleIndices == (0..<16).filter { ![5, 8, 10, 11].contains($0) })
        #expect(try data.resample(NearMiss(version: 1)).sampleIndices == [5, 8, 10, 11, 12, 13, 14, 15])
    }
}
