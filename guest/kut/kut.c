/* What the kernels under test share: the planted-bug switch (kut.h). */
#include "kut.h"

u32 kut_plants;
