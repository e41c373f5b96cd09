/* SPDX-License-Identifier: Apache-2.0 */
/* The release both programs report with --version; bumped by hand at a release. */
#ifndef MSEG_LIB_VERSION_H
#define MSEG_LIB_VERSION_H

#define MSEG_VERSION "0.1.0"

#endif
