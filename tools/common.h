/* common.h */
#ifndef CERTPIN_COMMON_H
#define CERTPIN_COMMON_H
#endif
