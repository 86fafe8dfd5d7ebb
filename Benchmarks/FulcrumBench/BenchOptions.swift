import FulcrumKernels

/// `fulcrum-bench [--quick] [--filter SUBSTRING] [--json PATH] [--threads N]`.
struct BenchOptions {
    /// Small sizes and fewer runs: a smoke test that the benchmark still runs (the test suite uses it).
    var quick = false
    /// Only cases whose name contains this substring.
    var filter: String?
    /// Where to write the rows as a JSON array.
    var jsonPath: String?
    /// Threads for Fulcrum and OpenBLAS; default: every online processor.
    var threads = Threads.processorCount

    static let usage = """
        usage: fulcrum-bench [--quick] [--filter SUBSTRING] [--json PATH] [--threads N]
          --quick            small sizes, 3 timed runs: checks that every case still runs
          --filter SUBSTRING run only the cases whose name contains SUBSTRING
          --json PATH        also write the table as a JSON array to PATH
          --threads N        threads for Fulcrum and OpenBLAS (default: all processors)
        """

    struct UsageError: Error, CustomStringConvertible { let description: String }

    init(arguments: [String]) throws {
        var rest = arguments[...]
        func value(_ flag: String) throws -> String {
            guard let v = rest.popFirst() else { throw UsageError(description: "\(flag) needs a value") }
            return v
        }
        while let arg = rest.popFirst() {
            switch arg {
            case "--quick": quick = true
            case "--filter": filter = try value(arg)
            case "--json": jsonPath = try value(arg)
            case "--threads":
                let text = try value(arg)
                guard let n = Int(text), n >= 1 else { throw UsageError(description: "--threads needs a positive integer, got \(text)") }
                threads = n
            case "--help", "-h": throw UsageError(description: "")
            default: throw UsageError(description: "unknown argument \(arg)")
            }
        }
    }
}
