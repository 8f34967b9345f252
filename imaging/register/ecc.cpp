// ecc.cpp: the C++ half of cv.go. gocv v0.31.0 calls cv::findTransformECC
// without a try/catch, so an image pair ECC cannot register (uncorrelated,
// non-overlapping, NaN) throws a cv::Exception through cgo and aborts the
// whole program. This shim catches it. It also exposes cv::setNumThreads,
// which gocv v0.31.0 does not wrap.
#include <cstring>
#include <opencv2/core.hpp>
#include <opencv2/video/tracking.hpp>

#include "ecc.h"

static void copyMsg(char* dst, int n, const char* src) {
    if (n <= 0) return;
    std::strncpy(dst, src, n - 1);
    dst[n - 1] = 0;
}

extern "C" int exhibit_register_ecc(void* templ, void* input, void* warp, int motion,
                                    int maxIter, double eps, int gaussFiltSize,
                                    double* rho, char* err, int errlen) {
    try {
        cv::TermCriteria tc(cv::TermCriteria::COUNT + cv::TermCriteria::EPS, maxIter, eps);
        *rho = cv::findTransformECC(*static_cast<cv::Mat*>(templ), *static_cast<cv::Mat*>(input),
                                    *static_cast<cv::Mat*>(warp), motion, tc, cv::noArray(),
                                    gaussFiltSize);
        return 0;
    } catch (const cv::Exception& e) {
        copyMsg(err, errlen, e.what());
    } catch (const std::exception& e) {
        copyMsg(err, errlen, e.what());
    } catch (...) {
        copyMsg(err, errlen, "unknown C++ exception");
    }
    return 1;
}

extern "C" int exhibit_register_set_threads(int n) {
    cv::setNumThreads(n);
    return cv::getNumThreads();
}

extern "C" int exhibit_register_threads(void) { return cv::getNumThreads(); }

extern "C" void exhibit_register_version(char* buf, int buflen) { copyMsg(buf, buflen, CV_VERSION); }
