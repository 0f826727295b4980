// upfirdn2d on the CPU.
//
// The fast variant never materialises the upsampled image. Work is split into tasks of
// consecutive output rows of one (n, c) plane, spread over the OpenMP threads. A task copies
// the input rows it needs into a buffer with enough zeros left and right that no tap ever
// falls outside a row. Each output row is then split into its `upx` horizontal phases:
// within one phase every output sample m sees the same taps, on consecutive input samples,
//
//   out_q[m] += sum_{j < NT} w[j] * row[m * downx + c + j]      for each input row in reach,
//
// a loop without branches that the compiler vectorizes, with the taps unrolled for NT <= 8.
// The phases are then interleaved into the output row. Cost: fh*fw / (upx*upy)
// multiply-adds per output sample, the work of a polyphase filter.
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <ATen/Dispatch.h>

#include <algorithm>
#include <vector>

#include "upfirdn2d.h"

namespace ganbench {
namespace {

// out[m] += sum_{j < nt} w[j] * x[m * dx + j] for m in [0, M); NT > 0 and DX > 0 fix the
// tap count and the stride at compile time.
template <int NT, int DX, typename acc_t>
void correlate(acc_t* __restrict__ out, const acc_t* __restrict__ x, const acc_t* __restrict__ w,
               int64_t M, int64_t nt_rt, int64_t dx_rt) {
  const int64_t dx = DX > 0 ? DX : dx_rt;
  if constexpr (NT > 0) {
    acc_t wr[NT];
    for (int j = 0; j < NT; ++j) wr[j] = w[j];
    for (int64_t m = 0; m < M; ++m) {
      acc_t acc = out[m];
#pragma GCC unroll 8
      for (int j = 0; j < NT; ++j) acc += wr[j] * x[m * dx + j];
      out[m] = acc;
    }
  } else {
    for (int64_t j = 0; j < nt_rt; ++j) {
      const acc_t wj = w[j];
      for (int64_t m = 0; m < M; ++m) out[m] += wj * x[m * dx + j];
    }
  }
}

template <int DX, typename acc_t>
void correlate_nt(acc_t* out, const acc_t* x, const acc_t* w, int64_t M, int64_t nt, int64_t dx) {
  switch (nt) {
    case 1: correlate<1, DX>(out, x, w, M, nt, dx); break;
    case 2: correlate<2, DX>(out, x, w, M, nt, dx); break;
    case 3: correlate<3, DX>(out, x, w, M, nt, dx); break;
    case 4: correlate<4, DX>(out, x, w, M, nt, dx); break;
    case 5: correlate<5, DX>(out, x, w, M, nt, dx); break;
    case 6: correlate<6, DX>(out, x, w, M, nt, dx); break;
    case 7: correlate<7, DX>(out, x, w, M, nt, dx); break;
    case 8: correlate<8, DX>(out, x, w, M, nt, dx); break;
    default: correlate<0, DX>(out, x, w, M, nt, dx); break;
  }
}

template <typename acc_t>
void correlate_any(acc_t* out, const acc_t* x, const acc_t* w, int64_t M, int64_t nt, int64_t dx) {
  switch (dx) {
    case 1: correlate_nt<1>(out, x, w, M, nt, dx); break;
    case 2: correlate_nt<2>(out, x, w, M, nt, dx); break;
    default: correlate_nt<0>(out, x, w, M, nt, dx); break;
  }
}

template <typename scalar_t>
void upfirdn2d_cpu_fast(const scalar_t* x, const at::opmath_type<scalar_t>* f, scalar_t* y,
                        const Upfirdn2dParams& p) {
  using acc_t = at::opmath_type<scalar_t>;
  constexpr bool kDirect = std::is_same<scalar_t, acc_t>::value;
  const int64_t nphase = std::min(p.upx, p.OW);
  const bool direct = kDirect && p.upx == 1;

  // Per phase q (output samples ox = q + m * upx, m < ph_m): its taps are every upx-th from
  // ph_kx0, ph_nt of them, on input samples m * downx + ph_c + j.
  std::vector<int64_t> ph_kx0(nphase), ph_nt(nphase), ph_c(nphase), ph_m(nphase);
  int64_t pad_left = 0, pad_right = 0;
  for (int64_t q = 0; q < nphase; ++q) {
    const int64_t bx = q * p.downx - p.padx0;
    ph_kx0[q] = pos_mod(-bx, p.upx);
    ph_nt[q] = ph_kx0[q] < p.fw ? (p.fw - ph_kx0[q] + p.upx - 1) / p.upx : 0;
    ph_c[q] = (bx + ph_kx0[q]) / p.upx;
    ph_m[q] = (p.OW - q + p.upx - 1) / p.upx;
    if (ph_nt[q] > 0) {
      pad_left = std::max(pad_left, -ph_c[q]);
      pad_right = std::max(pad_right, (ph_m[q] - 1) * p.downx + ph_c[q] + ph_nt[q] - p.W);
    }
  }
  const int64_t Wp = pad_left + p.W + pad_right;
  // The taps of each phase, consecutive: wph[q][ky][j].
  std::vector<acc_t> wph(nphase * p.fh * p.fw);
  for (int64_t q = 0; q < nphase; ++q)
    for (int64_t ky = 0; ky < p.fh; ++ky)
      for (int64_t j = 0; j < ph_nt[q]; ++j)
        wph[(q * p.fh + ky) * p.fw + j] = f[ky * p.fw + ph_kx0[q] + j * p.upx];

  // Tasks: `chunks` runs of output rows per plane; enough tasks to balance the threads, each
  // with enough work to pay for its row copies.
  const int64_t planes = p.N * p.C;
  const int64_t threads = at::get_num_threads();
  const int64_t max_chunks = std::max<int64_t>(1, p.OH * p.OW / 16384);
  const int64_t chunks = std::clamp<int64_t>((8 * threads + planes - 1) / planes, 1, std::min(max_chunks, p.OH));
  const int64_t tasks = planes * chunks;
  const int64_t grain = planes * p.OH * p.OW < 32768 ? tasks : 1;  // tiny: one thread

  at::parallel_for(0, tasks, grain, [&](int64_t begin, int64_t end) {
    const int64_t stride_q = (p.OW + p.upx - 1) / p.upx;
    std::vector<acc_t> tmp(direct ? 0 : nphase * stride_q);
    std::vector<acc_t> buf;
    std::vector<int64_t> row_ky(p.fh), row_iy(p.fh);
    for (int64_t task = begin; task < end; ++task) {
      const int64_t plane = task / chunks;
      const int64_t chunk = task % chunks;
      const int64_t oy0 = chunk * p.OH / chunks, oy1 = (chunk + 1) * p.OH / chunks;
      const scalar_t* xp = x + (plane / p.C) * p.sxn + (plane % p.C) * p.sxc;

      // Copy the input rows in reach of these output rows, zero-padded.
      const int64_t iy_lo = std::max<int64_t>(0, ceil_div(oy0 * p.downy - p.pady0, p.upy));
      const int64_t iy_hi =
          std::min<int64_t>(p.H - 1, floor_div((oy1 - 1) * p.downy - p.pady0 + p.fh - 1, p.upy));
      const int64_t nbuf = std::max<int64_t>(0, iy_hi - iy_lo + 1);
      buf.assign(nbuf * Wp, acc_t(0));
      for (int64_t iy = iy_lo; iy <= iy_hi; ++iy) {
        const scalar_t* src = xp + iy * p.sxh;
        acc_t* dst = buf.data() + (iy - iy_lo) * Wp + pad_left;
        for (int64_t i = 0; i < p.W; ++i) dst[i] = static_cast<acc_t>(src[i]);
      }

      for (int64_t oy = oy0; oy < oy1; ++oy) {
        scalar_t* yrow = y + (plane * p.OH + oy) * p.OW;
        int64_t nrows = 0;  // input rows that meet the filter for this output row
        const int64_t by = oy * p.downy - p.pady0;
        for (int64_t ky = pos_mod(-by, p.upy); ky < p.fh; ky += p.upy) {
          const int64_t iy = (by + ky) / p.upy;
          if (iy >= 0 && iy < p.H) {
            row_ky[nrows] = ky;
            row_iy[nrows] = iy;
            ++nrows;
          }
        }
        for (int64_t q = 0; q < nphase; ++q) {
          const int64_t M = ph_m[q];
          acc_t* acc = direct ? reinterpret_cast<acc_t*>(yrow) : tmp.data() + q * stride_q;
          std::fill(acc, acc + M, acc_t(0));
          if (ph_nt[q] == 0) continue;
          for (int64_t rr = 0; rr < nrows; ++rr) {
            const acc_t* row = buf.data() + (row_iy[rr] - iy_lo) * Wp + pad_left + ph_c[q];
            correlate_any<acc_t>(acc, row, wph.data() + (q * p.fh + row_ky[rr]) * p.fw, M,
                                 ph_nt[q], p.downx);
          }
        }
        if (direct) continue;
        // Interleave the phases into the output row.
        if (nphase == 2 && p.OW % 2 == 0) {
          const acc_t* t0 = tmp.data();
          const acc_t* t1 = tmp.data() + stride_q;
          for (int64_t m = 0; m < p.OW / 2; ++m) {
            yrow[2 * m] = static_cast<scalar_t>(t0[m]);
            yrow[2 * m + 1] = static_cast<scalar_t>(t1[m]);
          }
        } else {
          for (int64_t q = 0; q < nphase; ++q) {
            const acc_t* tq = tmp.data() + q * stride_q;
            for (int64_t m = 0; m < ph_m[q]; ++m)
              yrow[q + m * p.upx] = static_cast<scalar_t>(tq[m]);
          }
        }
      }
    }
  });
}

template <typename scalar_t>
void upfirdn2d_cpu_generic(const scalar_t* x, const at::opmath_type<scalar_t>* f, scalar_t* y,
                           const Upfirdn2dParams& p) {
  using acc_t = at::opmath_type<scalar_t>;
  const int64_t rows = p.N * p.C * p.OH;
  at::parallel_for(0, rows, 1, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t plane = r / p.OH;
      const int64_t oy = r % p.OH;
      const scalar_t* xp = x + (plane / p.C) * p.sxn + (plane % p.C) * p.sxc;
      for (int64_t ox = 0; ox < p.OW; ++ox)
        y[r * p.OW + ox] = static_cast<scalar_t>(upfirdn2d_point<scalar_t, acc_t>(xp, f, p, oy, ox));
    }
  });
}

}  // namespace

at::Tensor upfirdn2d_cpu(const at::Tensor& x, const at::Tensor& f, const Upfirdn2dParams& p,
                         int64_t variant) {
  at::Tensor y = at::empty({p.N, p.C, p.OH, p.OW}, x.options().memory_format(at::MemoryFormat::Contiguous));
  if (y.numel() == 0) return y;
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "upfirdn2d_cpu", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const scalar_t* xd = x.const_data_ptr<scalar_t>();
    const acc_t* fd = f.const_data_ptr<acc_t>();
    scalar_t* yd = y.mutable_data_ptr<scalar_t>();
    if (variant == kUpfirdn2dGeneric)
      upfirdn2d_cpu_generic<scalar_t>(xd, fd, yd, p);
    else
      upfirdn2d_cpu_fast<scalar_t>(xd, fd, yd, p);
  });
  return y;
}

}  // namespace ganbench
