// ecc.h declares the C side of the small C++ shim in ecc.cpp (see cv.go).
#ifndef EXHIBIT_REGISTER_ECC_H
#define EXHIBIT_REGISTER_ECC_H

#ifdef __cplusplus
extern "C" {
#endif

// exhibit_register_ecc runs cv::findTransformECC on the cv::Mat objects
// behind templ, input and warp (gocv Mat pointers) and stores the
// correlation in *rho. It returns 0 on success; on a cv::Exception it
// returns 1 and copies the exception's message into err (at most errlen
// bytes, NUL-terminated), so that an ECC failure becomes a Go error
// instead of terminating the process.
int exhibit_register_ecc(void* templ, void* input, void* warp, int motion,
                         int maxIter, double eps, int gaussFiltSize,
                         double* rho, char* err, int errlen);

// exhibit_register_set_threads calls cv::setNumThreads(n) and returns
// cv::getNumThreads() afterwards.
int exhibit_register_set_threads(int n);

// exhibit_register_threads returns cv::getNumThreads().
int exhibit_register_threads(void);

// exhibit_register_version copies CV_VERSION into buf.
void exhibit_register_version(char* buf, int buflen);

#ifdef __cplusplus
}
#endif

#endif
