# cmake/install.cmake: the installable library (included at the end of CMakeLists.txt, after cuda/ and cudasim/).
#   snacrt_static_install  lib/libsnacrt.a: every object of the build in one archive (host + the "cuda" backend:
#                          cuda/ under nvcc, or cuda/ + tests/cudasim in a simulator build), so a client links
#                          one archive (the in-tree static libs link each other circularly)
#   snacrt_shared          lib/libsnacrt.so: the same objects (all built -fPIC), exporting only the functions the
#                          public headers declare (cmake/public_symbols.cmake writes the version script)
#   snacrt.pc              pkg-config file; Requires.private / Libs.private carry the dependencies for --static
# `cmake --install build --prefix P` puts include/snacrt*.h in P/include, both libraries and the snacrt command in
# P/lib and P/bin, and snacrt.pc in P/lib/pkgconfig. tests/test_install.sh checks it with docs/example/example.c.
# SNACRT_VERSION is set in CMakeLists.txt (also compiled into srt_get_build_info)
include(GNUInstallDirs)
set(_srt_objs $<TARGET_OBJECTS:snacrt>)
set(_srt_pc_libs "")
set(_srt_pc_requires "sndfile soxr libcjson openblas libpcre2-8 zlib libmicrohttpd")
set(_srt_shared_extra "")
if(TARGET snacrt_cuda)
  # nvcc build: kernels + cuBLAS (+ NCCL) from the toolkit
  find_package(CUDAToolkit REQUIRED)   # its imported targets and CUDAToolkit_LIBRARY_DIR are scoped to cuda/
  list(APPEND _srt_objs $<TARGET_OBJECTS:snacrt_cuda>)
  list(APPEND _srt_shared_extra CUDA::cudart CUDA::cublas stdc++)
  string(APPEND _srt_pc_libs " -L${CUDAToolkit_LIBRARY_DIR} -Wl,-rpath,${CUDAToolkit_LIBRARY_DIR} -lcudart -lcublas -lstdc++")
  if(SNACRT_NCCL)
    list(APPEND _srt_shared_extra ${SNACRT_NCCL_LIB})
    string(APPEND _srt_pc_libs " ${SNACRT_NCCL_LIB}")
  endif()
elseif(TARGET snacrt_cudasim)
  # simulator build: the "cuda" device is tests/cudasim (C++, boost.context)
  list(APPEND _srt_objs $<TARGET_OBJECTS:snacrt_cudasim> $<TARGET_OBJECTS:cudasim>)
  list(APPEND _srt_shared_extra ${CUDASIM_BOOST_CONTEXT} stdc++)
  string(APPEND _srt_pc_libs " ${CUDASIM_BOOST_CONTEXT} -lstdc++")
endif()
string(APPEND _srt_pc_libs " -lmp3lame -lsonic")
if(SNACRT_MPI)
  list(APPEND _srt_shared_extra MPI::MPI_C)
  string(APPEND _srt_pc_requires " mpi-c")
endif()

include(${CMAKE_SOURCE_DIR}/cmake/public_symbols.cmake)

add_library(snacrt_static_install STATIC ${_srt_objs})
set_target_properties(snacrt_static_install PROPERTIES OUTPUT_NAME snacrt CUDA_ARCHITECTURES OFF
  ARCHIVE_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/lib LINKER_LANGUAGE C)

add_library(snacrt_shared SHARED ${_srt_objs})
set_target_properties(snacrt_shared PROPERTIES OUTPUT_NAME snacrt CUDA_ARCHITECTURES OFF VERSION ${SNACRT_VERSION} SOVERSION 0
  LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/lib LINKER_LANGUAGE C
  LINK_DEPENDS ${SNACRT_VERSION_SCRIPT} INSTALL_RPATH_USE_LINK_PATH ON)
target_link_options(snacrt_shared PRIVATE "-Wl,--version-script=${SNACRT_VERSION_SCRIPT}" "-Wl,--no-undefined")
target_link_libraries(snacrt_shared PRIVATE ${SNACRT_EXTERNAL_LIBS} ${_srt_shared_extra})

# a sanitized library needs the sanitizer runtimes in whatever links it, shared or static
set(SNACRT_PC_LIBS_PUBLIC "")
if(SNACRT_SANITIZE)
  set(SNACRT_PC_LIBS_PUBLIC " -fsanitize=address,undefined")
endif()
set(SNACRT_PC_REQUIRES_PRIVATE "${_srt_pc_requires}")
set(SNACRT_PC_LIBS_PRIVATE "-fopenmp -lpthread -lm${_srt_pc_libs}")
configure_file(${CMAKE_SOURCE_DIR}/cmake/snacrt.pc.in ${CMAKE_BINARY_DIR}/snacrt.pc @ONLY)

file(GLOB SNACRT_PUBLIC_HEADERS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/include/*.h)
install(FILES ${SNACRT_PUBLIC_HEADERS} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS snacrt_static_install ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS snacrt_shared LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
if(TARGET snacrt_cli)
  set_target_properties(snacrt_cli PROPERTIES INSTALL_RPATH_USE_LINK_PATH ON)   # libcudart outside ld.so's path
  install(TARGETS snacrt_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
install(FILES ${CMAKE_BINARY_DIR}/snacrt.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
