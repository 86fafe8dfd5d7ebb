import FulcrumKernels

// One row of the fused distillation kernel: teacher scores a = t/T_t and student scores b = s/T_s
// read together, three passes over two rows that stay in cache:
//
//   A  the two maxima (and the finiteness probe);
//   B  e^{a−m_a} and e^{b−m_b} (kept in a scratch row and the gradient row) and six sums, per
//      512-element chunk in T, combined in Double: Σe^a, Σe^b, Σe^a·d, Σe^b·d, Σe^a·(a−m_a),
//      Σe^b·(b−m_b) with d = (a − m_a) − (b − m_b) — both KLs and both entropies follow without a
//      log per element, and identical rows give d = 0 exactly;
//   C  the gradient, written once, from the stored exponentials (no exp in this pass).

/// What one row produced (Double).
struct DistillationRowOutcome {
    var forward = 0.0, reverse = 0.0
    var teacherEntropy = 0.0, studentEntropy = 0.0
    /// The row's loss after the balance weights and the T² factor.
    var loss = 0.0
    var isFinite = true
}

/// Forward and reverse KL of one row and, when `gradient` is non-nil, d(loss)/d(student logits)
/// times `gradientScale`. `scratch` holds `classes` elements.
@inline(__always)
func distillationRow<T: FulcrumFloat>(
    student: UnsafePointer<T>, teacher: UnsafePointer<T>, classes: Int,
    teacherInverseTemperature: T, studentInverseTemperature: T, lossScale: Double,
    balance: DivergenceBalance, gradientScale: Double,
    gradient: UnsafeMutablePointer<T>?, scratch: UnsafeMutablePointer<T>
) -> DistillationRowOutcome {
    let width = T.vectorWidth
    let (ia, ib) = (T.Vector(repeating: teacherInverseTemperature), T.Vector(repeating: studentInverseTemperature))
    var outcome = DistillationRowOutcome()

    // Pass A.
    var maxA = T.Vector(repeating: -.infinity), maxB = maxA, probe = T.Vector()
    forEachVector(T.self, from: 0, to: classes) { j, count in
        let t = teacher.loadVector(at: j, count: count), s = student.loadVector(at: j, count: count)
        probe += (t - t) + (s - s)
        var a = t * ia, b = s * ib
        if count < width {
            a = T.keepingLanes(below: count, of: a, fill: -.infinity)
            b = T.keepingLanes(below: count, of: b, fill: -.infinity)
        }
        maxA = T.maximum(a, maxA)
        maxB = T.maximum(b, maxB)
    }
    guard probe.sum().isFinite else {
        outcome.isFinite = false
        return outcome
    }
    let (ma, mb) = (maxA.max(), maxB.max())
    let (mav, mbv) = (T.Vector(repeating: ma), T.Vector(repeating: mb))

    // Pass B.
    var sa = 0.0, sb = 0.0, xa = 0.0, xb = 0.0, ea = 0.0, eb = 0.0
    var start = 0
    while start < classes {
        let end = min(classes, start + 512)
        var vsa = T.Vector(), vsb = vsa, vxa = vsa, vxb = vsa, vea = vsa, veb = vsa
        forEachVector(T.self, from: start, to: end) { j, count in
            let a = teacher.loadVector(at: j, count: count) * ia, b = student.loadVector(at: j, count: count) * ib
            var pa = T.exp(a - mav), pb = T.exp(b - mbv)
            if count < width {
                pa = T.keepingLanes(below: count, of: pa, fill: 0)
                pb = T.keepingLanes(below: count, of: pb, fill: 0)
            }
            if let gradient {
                scratch.storeVector(pa, at: j, count: count)
                gradient.storeVector(pb, at: j, count: count)
            }
            let d = (a - mav) - (b - mbv)
            vsa += pa
            vsb += pb
            vxa += pa * d
            vxb += pb * d
            vea += pa * (a - mav)
            veb += pb * (b - mbv)
        }
        sa += Double(vsa.sum()); sb += Double(vsb.sum())
        xa += Double(vxa.sum()); xb += Double(vxb.sum())
        ea += Double(vea.sum()); eb += Double(veb.sum())
        start = end
    }
    let (logSa, logSb) = (Double.log(sa), Double.log(sb))
    let c = logSa - logSb  // log p_s − log p_t = c − d
    outcome.forward = xa / sa - c
    outcome.reverse = c - xb / sb
    outcome.teacherEntropy = logSa - ea / sa
    outcome.studentEntropy = logSb - eb / sb
    let (wf, wr) = balance.weights(teacherEntropy: outcome.teacherEntropy, studentEntropy: outcome.studentEntropy)
    outcome.loss = lossScale * (wf * outcome.forward + wr * outcome.reverse)

    // Pass C: g = k·[w_f·(p_s − p_t) + w_r·p_s·(log p_s − log p_t − KL_r)], log p_s − log p_t = c − d.
    guard let gradient else { return outcome }
    let k = gradientScale * lossScale * Double(studentInverseTemperature)
    let (forwardFactor, reverseFactor) = (T.Vector(repeating: T(k * wf)), T.Vector(repeating: T(k * wr)))
    let (invSa, invSb) = (T.Vector(repeating: T(1 / sa)), T.Vector(repeating: T(1 / sb)))
    let shift = T.Vector(repeating: T(c - outcome.reverse))
    let reader = UnsafePointer(gradient), stored = UnsafePointer(scratch)
    forEachVector(T.self, from: 0, to: classes) { j, count in
        let ps = reader.loadVector(at: j, count: count) * invSb, pt = stored.loadVector(at: j, count: count) * invSa
        var g = (ps - pt) * forwardFactor
        if wr != 0 {
            let d = (teacher.loadVector(at: j, count: count) * ia - mav) - (student.loadVector(at: j, count: count) * ib - mbv)
            g += ps * (shift - d) * reverseFactor
        }
        gradient.storeVector(g, at: j, count: count)
    }
    return outcome
}
