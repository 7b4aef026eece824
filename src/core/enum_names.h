// A name table for an enum: one array of (value, name) pairs serves both
// printing and parsing, so the two can never disagree.
// Thread-safety: pure functions over constant tables.
#pragma once

#include <array>
#include <optional>
#include <string_view>
#include <utility>

namespace lab {

template <typename E, size_t N>
using EnumNames = std::array<std::pair<E, std::string_view>, N>;

template <typename E, size_t N>
constexpr std::string_view NameOf(const EnumNames<E, N>& table, E value) {
  for (const auto& [v, name] : table) {
    if (v == value) return name;
  }
  return "?";
}

template <typename E, size_t N>
constexpr std::optional<E> ValueOf(const EnumNames<E, N>& table, std::string_view name) {
  for (const auto& [v, n] : table) {
    if (n == name) return v;
  }
  return std::nullopt;
}

}  // namespace lab
