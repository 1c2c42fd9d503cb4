#pragma once
#include <string>

int triple(int x);
std::string greet(const std::string& name);
